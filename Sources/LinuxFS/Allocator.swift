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

    /// The size from which a block gets a mapping of its own (glibc's initial default).
    public static let separateMappingBytes: Int32 = 128 << 10

    /// Gives every block of at least ``separateMappingBytes`` a mapping of its own, returned to
    /// the kernel when freed (`mallopt(M_MMAP_THRESHOLD)`). By default glibc raises that
    /// threshold up to 32 MiB each time such a block is freed, and the trim threshold to twice
    /// it: from then on large blocks come from the arenas, and what they leave behind stays
    /// resident (a full listing of 100k leases kept about 300 MiB). Call it at start-up.
    /// False when glibc refused.
    @discardableResult
    public static func mapLargeBlocksApart() -> Bool {
        clinux_malloc_set_mmap_threshold(separateMappingBytes) != 0
    }
}
