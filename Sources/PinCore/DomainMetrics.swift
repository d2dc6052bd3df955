import CoreMetrics

/// What the domain counts and times, through swift-metrics' API: an API package like
/// swift-log, with no exporter and no I/O, so the domain depends on it directly (a protocol
/// of our own would only restate it). The exporter (Prometheus) and its registry live in
/// PinAssembly. Every handle is made once, from the factory the core was given (never the
/// global `MetricsSystem`, so cores in one test process stay apart), for each of its bounded
/// label values: recording is then an atomic add (counters) or a short lock (histograms),
/// with no allocation and no registry lookup.
package final class DomainMetrics: Sendable {
    /// The file operations whose durations are timed.
    package enum Operation: String, CaseIterable, Sendable {
        case prepare, lock, unlock, pin, unpin
    }

    /// What became of a webhook message (`pinlease_webhook_deliveries_total{outcome}`).
    package enum DeliveryOutcome: String, CaseIterable, Sendable {
        case delivered, failed, cancelled
    }

    /// The codes of ``FileViolation``; any other is counted as `other`.
    package static let violationCodes = [
        "immutable-flag-cleared", "inode-replaced", "path-removed", "size-changed", "extents-shared",
        "extent-map-changed", "read-lease-lost", "lease-broken", "other",
    ]

    package static let descriptions: [MetricDescription] = [
        MetricDescription(
            "pinlease_lease_transitions_total", .counter,
            "Lease transitions made durable, by kind "
                + "(granted, renewed, revoking, expiring, released, revoked, expired)."),
        MetricDescription(
            "pinlease_violations_total", .counter, "Locked files found violated (first violation of a file), by kind."),
        MetricDescription(
            "pinlease_audit_pass_duration_seconds", .histogram(buckets: MetricDescription.latencyBuckets),
            "Duration of one audit pass over every locked file."),
        MetricDescription(
            "pinlease_prepare_written_bytes_total", .counter, "Bytes of zeroes written into files by prepare."),
        MetricDescription(
            "pinlease_operation_duration_seconds", .histogram(buckets: MetricDescription.operationBuckets),
            "Duration of file operations (prepare, lock, unlock, pin, unpin), by operation and result (ok, error)."),
        MetricDescription(
            "pinlease_webhook_deliveries_total", .counter,
            "Webhook messages finished, by outcome (delivered, failed, cancelled)."),
        MetricDescription(
            "pinlease_webhook_attempt_duration_seconds", .histogram(buckets: MetricDescription.latencyBuckets),
            "Duration of webhook attempts, by result (delivered, retrying, failed)."),
        MetricDescription(
            "pinlease_webhook_retries_total", .counter, "Webhook attempts that failed and were scheduled again."),
    ]

    private let transitions: [LeaseTransitionKind: Counter]
    private let violations: [String: Counter]
    private let auditPass: CoreMetrics.Timer
    private let preparedBytes: Counter
    private let operations: [Operation: (ok: CoreMetrics.Timer, error: CoreMetrics.Timer)]
    private let deliveries: [DeliveryOutcome: Counter]
    private let attempts: (delivered: CoreMetrics.Timer, retrying: CoreMetrics.Timer, failed: CoreMetrics.Timer)
    private let retries: Counter

    /// Makes every handle from `factory`.
    package init(factory: any MetricsFactory) {
        func counter(_ name: String, _ dimensions: [(String, String)] = []) -> Counter {
            Counter(label: name, dimensions: dimensions, factory: factory)
        }
        func timer(_ name: String, _ dimensions: [(String, String)]) -> CoreMetrics.Timer {
            CoreMetrics.Timer(label: name, dimensions: dimensions, factory: factory)
        }
        var transitions: [LeaseTransitionKind: Counter] = [:]
        for kind in LeaseTransitionKind.allCases {
            transitions[kind] = counter("pinlease_lease_transitions_total", [("kind", kind.rawValue)])
        }
        self.transitions = transitions
        var violations: [String: Counter] = [:]
        for code in Self.violationCodes { violations[code] = counter("pinlease_violations_total", [("kind", code)]) }
        self.violations = violations
        auditPass = timer("pinlease_audit_pass_duration_seconds", [])
        preparedBytes = counter("pinlease_prepare_written_bytes_total")
        var operations: [Operation: (ok: CoreMetrics.Timer, error: CoreMetrics.Timer)] = [:]
        for operation in Operation.allCases {
            let name = "pinlease_operation_duration_seconds"
            operations[operation] = (
                timer(name, [("operation", operation.rawValue), ("result", "ok")]),
                timer(name, [("operation", operation.rawValue), ("result", "error")])
            )
        }
        self.operations = operations
        var deliveries: [DeliveryOutcome: Counter] = [:]
        for outcome in DeliveryOutcome.allCases {
            deliveries[outcome] = counter("pinlease_webhook_deliveries_total", [("outcome", outcome.rawValue)])
        }
        self.deliveries = deliveries
        let attempt = "pinlease_webhook_attempt_duration_seconds"
        attempts = (
            timer(attempt, [("result", "delivered")]), timer(attempt, [("result", "retrying")]),
            timer(attempt, [("result", "failed")])
        )
        retries = counter("pinlease_webhook_retries_total")
    }

    /// Records nothing (tests and cores built without an exporter).
    package static let none = DomainMetrics(factory: NOOPMetricsHandler.instance)

    func recordTransitions(_ tally: LeaseTransitionTally) {
        tally.visitCounted { kind, count in transitions[kind]?.increment(by: count) }
    }

    func recordViolation(code: String) {
        (violations[code] ?? violations["other"])?.increment()
    }

    func recordAuditPass(_ duration: Duration) {
        auditPass.recordNanoseconds(Self.nanoseconds(duration))
    }

    func recordPrepared(bytes: UInt64) {
        preparedBytes.increment(by: Int64(clamping: bytes))
    }

    /// Runs `body` and records how long it took, under `operation` and its result.
    func timed<T>(_ operation: Operation, _ body: () throws(CoreError) -> T) throws(CoreError) -> T {
        let start = ContinuousClock.now
        do {
            let result = try body()
            recordOperation(operation, ok: true, since: start)
            return result
        } catch {
            recordOperation(operation, ok: false, since: start)
            throw error
        }
    }

    /// Records an operation that started at `start` and ended now.
    func recordOperation(_ operation: Operation, ok: Bool, since start: ContinuousClock.Instant) {
        let nanoseconds = Self.nanoseconds(ContinuousClock.now - start)
        guard let timers = operations[operation] else { return }
        (ok ? timers.ok : timers.error).recordNanoseconds(nanoseconds)
    }

    func recordAttempt(_ attempt: DeliveryAttempt) {
        let nanoseconds = Int64(max(0, attempt.durationSeconds) * 1e9)
        switch attempt.outcome {
        case .delivered:
            attempts.delivered.recordNanoseconds(nanoseconds)
        case .retrying:
            attempts.retrying.recordNanoseconds(nanoseconds)
            retries.increment()
        case .failed:
            attempts.failed.recordNanoseconds(nanoseconds)
        }
    }

    func recordFinished(_ outcome: DeliveryAttempt.Outcome) {
        switch outcome {
        case .delivered: deliveries[.delivered]?.increment()
        case .failed: deliveries[outcome == .cancelled ? .cancelled : .failed]?.increment()
        case .retrying: break  // never reported as finished
        }
    }

    package static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000
    }
}
