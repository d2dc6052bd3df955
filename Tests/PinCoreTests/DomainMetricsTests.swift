import MetricsTestKit
import Testing

@testable import PinCore

/// How the domain's records map onto labels: webhook outcomes (a cancellation is not a
/// failure), attempts and retries, violation codes (an unknown one is `other`), operations by
/// result, and prepared bytes.
@Suite struct DomainMetricsTests {
    private func attempt(_ outcome: DeliveryAttempt.Outcome, seconds: Double = 0.25) -> DeliveryAttempt {
        DeliveryAttempt(
            messageID: "msg_1", leaseID: "lease_1", eventType: .leaseRevoking, url: "http://127.0.0.1:9/h", attempt: 1,
            startedAt: 0, durationSeconds: seconds, statusCode: nil, error: nil, outcome: outcome)
    }

    @Test func webhookOutcomesAttemptsAndRetries() throws {
        let factory = TestMetrics()
        let metrics = DomainMetrics(factory: factory)
        metrics.recordAttempt(attempt(.retrying(at: 5)))
        metrics.recordAttempt(attempt(.delivered, seconds: 0.5))
        metrics.recordFinished(.delivered)
        metrics.recordFinished(.cancelled)
        metrics.recordFinished(.failed("gone (410)"))
        func deliveries(_ outcome: String) -> Int64 {
            factory.counterTotal(label: "pinlease_webhook_deliveries_total", dimensions: [("outcome", outcome)])
        }
        #expect(deliveries("delivered") == 1 && deliveries("cancelled") == 1 && deliveries("failed") == 1)
        #expect(factory.counterTotal(label: "pinlease_webhook_retries_total") == 1)
        let delivered = try factory.expectTimer("pinlease_webhook_attempt_duration_seconds", [("result", "delivered")])
        #expect(delivered.values == [500_000_000])
    }

    @Test func violationsByCodeWithUnknownCodesAsOther() {
        let factory = TestMetrics()
        let metrics = DomainMetrics(factory: factory)
        metrics.recordViolation(code: "size-changed")
        metrics.recordViolation(code: "something-new")
        #expect(factory.counterTotal(label: "pinlease_violations_total", dimensions: [("kind", "size-changed")]) == 1)
        #expect(factory.counterTotal(label: "pinlease_violations_total", dimensions: [("kind", "other")]) == 1)
    }

    @Test func operationsAreTimedByResult() throws {
        let factory = TestMetrics()
        let metrics = DomainMetrics(factory: factory)
        _ = try metrics.timed(.lock) { () throws(CoreError) in 1 }
        #expect(throws: CoreError.self) {
            try metrics.timed(.pin) { () throws(CoreError) in throw CoreError(.notLocked, "not locked") }
        }
        metrics.recordPrepared(bytes: 4096)
        let name = "pinlease_operation_duration_seconds"
        #expect(try factory.expectTimer(name, [("operation", "lock"), ("result", "ok")]).values.count == 1)
        #expect(try factory.expectTimer(name, [("operation", "pin"), ("result", "error")]).values.count == 1)
        #expect(try factory.expectTimer(name, [("operation", "pin"), ("result", "ok")]).values.isEmpty)
        #expect(factory.counterTotal(label: "pinlease_prepare_written_bytes_total") == 4096)
    }

    @Test func everyDomainMetricIsDescribed() {
        let factory = TestMetrics()
        _ = DomainMetrics(factory: factory)
        let made = Set((factory.counters.map(\.label) + factory.timers.map(\.label)))
        #expect(made == Set(DomainMetrics.descriptions.map(\.name)))
    }
}
