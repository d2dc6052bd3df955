import LinuxFS

/// Decides when to give the memory of closed connections back to the system. Each connection's
/// libmicrohttpd pool (``PinHTTPServer/connectionMemoryBytes``) is a malloc block in the arena
/// of the MHD thread that accepted it. When thousands of connections close, glibc keeps most
/// of those pages (`free` trims only the top of a heap), so the daemon's resident memory stays
/// at its peak: after 10,000 idle connections closed, 216 MiB stayed resident where
/// `malloc_trim` left 41 MiB. Once the number of open connections fell by at least `drop`, and
/// to half its peak since the last trim or less, ``trim()`` gives those pages back.
struct ConnectionMemoryTrim {
    /// Fewer closed connections than this are not worth a trim.
    let drop: Int
    private var peak = 0

    init(drop: Int = 1024) {
        self.drop = drop
    }

    /// Notes how many connections are open now; true when memory should be trimmed now.
    mutating func note(openConnections count: Int) -> Bool {
        peak = max(peak, count)
        guard peak - count >= drop, count <= peak / 2 else { return false }
        peak = count
        return true
    }

    /// Returns the free pages of every malloc arena to the system.
    static func trim() {
        HeapMemory.releaseFree()
    }
}
