/// A locked file changed behind the daemon's back, found by the audit or by a kernel lease
/// break. Every lease on the file is revoked with `reason` "file-violation: <code>".
public struct FileViolation: Sendable, Equatable {
    /// `immutable-flag-cleared`, `inode-replaced`, `path-removed`, `size-changed`,
    /// `extents-shared`, `extent-map-changed`, `read-lease-lost` or `lease-broken`.
    public let code: String
    public let detail: String
    /// Wall-clock milliseconds since the epoch.
    public let detectedAt: Int64

    package init(code: String, detail: String, detectedAt: Int64 = WallClock.nowMilliseconds()) {
        self.code = code
        self.detail = detail
        self.detectedAt = detectedAt
    }

    /// The revocation reason of the file's leases.
    public var revokeReason: String { "file-violation: \(code)" }
}
