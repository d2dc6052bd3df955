/// What the core holds right now, for the gauges of `GET /metrics`. Read at scrape time from
/// the core's own state (the lease book's per-state counts, the pin book's budget, the locked
/// files, the webhook transport's pending messages) rather than kept by increments and
/// decrements beside it, which could drift from what the API reports.
public struct CoreGauges: Sendable {
    /// Leases in the book by state (ended leases stay until pruned, as `GET /v1/leases` shows them).
    public var leasesByState: [LeaseState: Int]
    /// The pin budget in use, as `GET /v1/pins` reports it.
    public var pinUsage: PinBudgetUsage
    /// Tracked files by state: `locked`, `degraded` or `violated`.
    public var filesByState: [String: Int]
    /// Webhook messages not yet finished, by origin (`scheme://host:port`).
    public var webhookQueueDepth: [String: Int]

    package init(
        leasesByState: [LeaseState: Int], pinUsage: PinBudgetUsage, filesByState: [String: Int],
        webhookQueueDepth: [String: Int]
    ) {
        self.leasesByState = leasesByState
        self.pinUsage = pinUsage
        self.filesByState = filesByState
        self.webhookQueueDepth = webhookQueueDepth
    }
}

extension PinCoreService {
    /// The gauges' values now.
    public func gauges() -> CoreGauges {
        CoreGauges(
            leasesByState: leases.countsByState, pinUsage: pins.usage, filesByState: locker.countsByState,
            webhookQueueDepth: notifier.pendingByOrigin)
    }
}
