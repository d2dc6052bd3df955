import CoreMetrics
import PinCore

/// What ``GroupCommit`` records per batch (never per write): how many commits, how many writes
/// each carried, and how long the transaction with its fsync took. Handles made once from the
/// store's factory (swift-metrics' API; the exporter lives in PinAssembly).
struct CommitMetrics: Sendable {
    static let descriptions: [MetricDescription] = [
        MetricDescription(
            "pinlease_state_commits_total", .counter,
            "Group commits of the lease state (one transaction and fsync each), by result (ok, error)."),
        MetricDescription(
            "pinlease_state_commit_batch_size", .histogram(buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]),
            "Writes (lease transitions, delivery records) carried by one group commit."),
        MetricDescription(
            "pinlease_state_commit_duration_seconds", .histogram(buckets: MetricDescription.latencyBuckets),
            "Duration of one group commit: the transaction and its fsync."),
    ]

    private let succeeded: Counter
    private let failed: Counter
    private let batchSize: Recorder
    private let duration: CoreMetrics.Timer

    init(factory: any MetricsFactory) {
        succeeded = Counter(label: "pinlease_state_commits_total", dimensions: [("result", "ok")], factory: factory)
        failed = Counter(label: "pinlease_state_commits_total", dimensions: [("result", "error")], factory: factory)
        batchSize = Recorder(label: "pinlease_state_commit_batch_size", dimensions: [], factory: factory)
        duration = CoreMetrics.Timer(label: "pinlease_state_commit_duration_seconds", dimensions: [], factory: factory)
    }

    /// One commit of `writes` writes that took `elapsed`.
    func record(writes: Int, elapsed: Duration, ok: Bool) {
        (ok ? succeeded : failed).increment()
        batchSize.record(writes)
        duration.recordNanoseconds(DomainMetrics.nanoseconds(elapsed))
    }
}

extension LeaseStore {
    /// The metrics the lease store records (for the exporter's help texts and buckets).
    package static let metricDescriptions = CommitMetrics.descriptions
}
