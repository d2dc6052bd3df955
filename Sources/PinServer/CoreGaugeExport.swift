import CoreMetrics
import PinCore
import Synchronization

/// The gauges whose truth is in the core, set from ``PinCoreService/gauges()`` at each scrape
/// (nothing is counted up and down beside the core's own state).
final class CoreGaugeExport: Sendable {
    static let descriptions: [MetricDescription] = [
        MetricDescription(
            "pinlease_leases", .gauge, "Leases the daemon holds, by state (ended ones until they are pruned)."),
        MetricDescription("pinlease_pins", .gauge, "Pins counted against the budget."),
        MetricDescription("pinlease_pinned_bytes", .gauge, "Bytes pinned, counted against the budget (page-rounded)."),
        MetricDescription("pinlease_pin_budget_bytes", .gauge, "The most bytes the daemon pins at once."),
        MetricDescription("pinlease_pin_budget_pins", .gauge, "The most pins the daemon holds at once."),
        MetricDescription(
            "pinlease_locked_files", .gauge, "Files the daemon tracks as locked, by state (locked, degraded, violated)."
        ),
        MetricDescription(
            "pinlease_webhook_queue_depth", .gauge,
            "Webhook messages not yet finished (queued, in flight or waiting to retry), by origin "
                + "(scheme://host:port; past \(maxOrigins) origins the smallest are summed as \"other\")."),
    ]

    /// The most origins shown with a series of their own.
    static let maxOrigins = 32

    private let factory: any MetricsFactory
    private let leases: [LeaseState: Gauge]
    private let pins: Gauge
    private let pinnedBytes: Gauge
    private let budgetBytes: Gauge
    private let budgetPins: Gauge
    private let files: [TrackedFileState: Gauge]
    /// The origin series shown at the last scrape (removed once their origin has nothing pending).
    private let origins = Mutex<[String: Gauge]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
        var leases: [LeaseState: Gauge] = [:]
        for state in LeaseState.allCases {
            leases[state] = Gauge(label: "pinlease_leases", dimensions: [("state", state.rawValue)], factory: factory)
        }
        self.leases = leases
        pins = Gauge(label: "pinlease_pins", dimensions: [], factory: factory)
        pinnedBytes = Gauge(label: "pinlease_pinned_bytes", dimensions: [], factory: factory)
        budgetBytes = Gauge(label: "pinlease_pin_budget_bytes", dimensions: [], factory: factory)
        budgetPins = Gauge(label: "pinlease_pin_budget_pins", dimensions: [], factory: factory)
        var files: [TrackedFileState: Gauge] = [:]
        for state in TrackedFileState.allCases {
            files[state] = Gauge(
                label: "pinlease_locked_files", dimensions: [("state", state.rawValue)], factory: factory)
        }
        self.files = files
    }

    /// Sets every gauge to `gauges`.
    func update(_ gauges: CoreGauges) {
        let status = gauges.status
        for (state, gauge) in leases { gauge.record(status.leasesByState[state] ?? 0) }
        pins.record(status.budget.pins)
        pinnedBytes.record(Double(status.budget.pinnedBytes))
        budgetBytes.record(Double(status.budget.budget.maxBytes))
        budgetPins.record(status.budget.budget.maxPins)
        for (state, gauge) in files { gauge.record(status.filesByState[state] ?? 0) }
        let depths = Self.bounded(gauges.webhookQueueDepth, maxOrigins: Self.maxOrigins)
        origins.withLock { shown in
            for (origin, gauge) in shown where depths[origin] == nil {
                gauge.destroy()
                shown[origin] = nil
            }
            for (origin, depth) in depths {
                let gauge =
                    shown[origin]
                    ?? Gauge(label: "pinlease_webhook_queue_depth", dimensions: [("origin", origin)], factory: factory)
                shown[origin] = gauge
                gauge.record(depth)
            }
        }
    }

    /// The `maxOrigins` deepest origins (ties by name), the rest summed as `other`.
    static func bounded(_ depths: [String: Int], maxOrigins: Int) -> [String: Int] {
        guard depths.count > maxOrigins else { return depths }
        let sorted = depths.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
        var kept = Dictionary(uniqueKeysWithValues: sorted.prefix(maxOrigins - 1).map { ($0.key, $0.value) })
        kept["other", default: 0] += sorted.dropFirst(maxOrigins - 1).reduce(0) { $0 + $1.value }
        return kept
    }
}
