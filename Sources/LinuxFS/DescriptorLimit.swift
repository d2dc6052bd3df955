import Glibc

/// `RLIMIT_NOFILE`: how many descriptors this process may have open.
public enum DescriptorLimit {
    /// Raises the soft limit to the hard limit (always allowed) and returns the soft limit now in
    /// force; `nil` when the limit cannot be read. When raising fails, the old soft limit is returned.
    ///
    /// The corresponding C functions are `getrlimit(RLIMIT_NOFILE)` and `setrlimit(RLIMIT_NOFILE)`.
    @discardableResult
    public static func raiseToHardLimit() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(raised.rlim_max) }
        }
        return UInt64(limit.rlim_cur)
    }
}
