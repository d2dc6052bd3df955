/// What the daemon holds, counted from its in-memory books (`GET /v1/status`): no database read
/// and no system call per file or pin. Leases and locked files by state come from counts kept as
/// they change; pins are counted in memory, one step per pin.
public struct DaemonStatus: Sendable {
    /// Tracked files by state (every state, 0 when none).
    public let filesByState: [TrackedFileState: Int]
    /// Pins by state (`active`, `failed`), as `GET /v1/pins` lists them.
    public let pinsByState: [Pin.State: Int]
    /// Pinned bytes and pins against the budget, as `GET /v1/pins` reports them.
    public let budget: PinBudgetUsage
    /// Leases by state (every state, 0 when none); ended leases count until they are forgotten.
    public let leasesByState: [LeaseState: Int]
    /// The newest event's sequence number (0 before the first).
    public let lastEventSequence: UInt64
}

extension PinCoreService {
    /// The counts of ``DaemonStatus``. Each book is read under its own lock, one after the
    /// other: the counts are each exact, not one snapshot across books.
    public func status() -> DaemonStatus {
        let pinCounts = pins.counts()
        return DaemonStatus(
            filesByState: locker.countsByState,
            pinsByState: [.active: pinCounts.active, .failed: pinCounts.failed], budget: pinCounts.usage,
            leasesByState: leases.countsByState, lastEventSequence: events.lastSequence)
    }
}
