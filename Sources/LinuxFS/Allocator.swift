internal import CLinux

/// The C allocator (glibc malloc) of this process: how much it keeps and hands back.
///
/// glibc keeps memory that was freed in its arenas for reuse; it returns it to the kernel only
/// when the free space is at the top of an arena and larger than the trim threshold. Freed
/// memory between live allocations stays resident until ``releaseFreeMemory()``.
public enum Allocator {
    /// Returns the free memory of every arena to the kernel (`malloc_trim(0)`): the free top of
    /// each arena is given back, and the whole free pages inside them are dropped
    /// (`MADV_DONTNEED`), so they no longer count in the resident set until used again.
    /// Takes each arena's lock in turn while it walks its free lists. True when any memory was
    /// released.
    @discardableResult
    public static func releaseFreeMemory() -> Bool {
        clinux_malloc_trim(0) != 0
    }
}
