internal import CLinux

/// The C heap (glibc's malloc), which libmicrohttpd and the C libraries allocate from.
public enum HeapMemory {
    /// Returns the free pages of every malloc arena to the system (`malloc_trim(0)`): `free`
    /// gives back only memory at the top of a heap, so after many blocks were freed the
    /// process can stay at its peak resident size. True when any memory was returned.
    @discardableResult
    public static func releaseFree() -> Bool {
        malloc_trim(0) != 0
    }
}
