/// What the core holds right now, for the gauges of `GET /metrics`. Read at scrape time from
/// the core's own state (the counts of `GET /v1/status`, the webhook transport's pending
/// messages) rather than kept by increments and decrements beside it, which could drift from
/// what the API reports.
public struct CoreGauges: Sendable {
    /// Files, pins, budget and leases by state, as `GET /v1/status` reports them.
    public var status: DaemonStatus
    /// Webhook messages not yet finished, by origin (`scheme://host:port`).
    public var webhookQueueDepth: [String: Int]

    package init(status: DaemonStatus, webhookQueueDepth: [String: Int]) {
        self.status = status
        self.webhookQueueDepth = webhookQueueDepth
    }
}

extension PinCoreService {
    /// The gauges' values now.
    public func gauges() -> CoreGauges {
        CoreGauges(status: status(), webhookQueueDepth: notifier.pendingByOrigin)
    }
}
