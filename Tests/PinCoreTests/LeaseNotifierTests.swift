import Foundation
import Logging
import PinJSON
import Synchronization
import Testing

@testable import PinCore

/// The notifier's outbox policy against an in-memory journal and a transport that only records
/// what it is asked: no SQLite, no libcurl.
@Suite struct LeaseNotifierTests {
    private func entry(_ id: String, lease: String, event: EventType, attempts: Int = 0) -> OutboxEntry {
        OutboxEntry(
            id: id, leaseID: lease, event: event, url: "http://receiver.invalid/h", body: "{}", retryUntil: 5_000,
            attemptsAfterDeadline: 3, attempts: attempts, nextAttemptAt: 7_000)
    }

    private func notifier(_ transport: RecordingWebhookTransport) throws -> LeaseNotifier {
        LeaseNotifier(
            configuration: WebhookConfiguration(allowList: try WebhookAllowList(prefixes: [])),
            store: MemoryLeaseJournal(),
            logger: Logger(label: "test"), makeTransport: transport.factory)
    }

    @Test func messagesCarryTheOutboxStateAndOnlyCallsToActHaveADeadline() throws {
        let transport = RecordingWebhookTransport()
        let notifier = try notifier(transport)
        defer { notifier.stop() }
        notifier.send(
            [
                entry("msg_1", lease: "lease_1", event: .leaseRevoking, attempts: 2),
                entry("msg_2", lease: "lease_1", event: .leaseRevoked),
                entry("msg_3", lease: "lease_gone", event: .leaseRevoked),
            ],
            secrets: ["lease_1": "whsec_AAAA"])
        let sent = transport.calls.withLock { $0 }
        #expect(sent.map(\.id) == ["send msg_1", "send msg_2"], "a message whose lease has no secret is not sent")
        #expect(
            sent.map(\.message?.followsRetrySchedule) == [false, true], "a final notice follows the retry schedule")
        #expect(sent.first?.message?.attemptsMade == 2 && sent.first?.message?.firstAttemptAt == 7)
        #expect(sent.first?.message?.retryUntil == 5 && sent.first?.message?.secret == "whsec_AAAA")

        notifier.cancel(leaseID: "lease_1")
        #expect(
            transport.calls.withLock { $0.last?.id } == "cancel lease_1 [lease.expired, lease.revoking]",
            "only the calls to act are cancelled: final notices are still delivered")
    }

    @Test func reportedAttemptsAreInTheDeliveryLogBeforeTheyAreWritten() throws {
        let transport = RecordingWebhookTransport()
        let notifier = try notifier(transport)
        defer { notifier.stop() }
        let attempt = DeliveryAttempt(
            messageID: "msg_1", leaseID: "lease_1", eventType: .leaseRevoked, url: "http://receiver.invalid/h",
            attempt: 1, startedAt: 1, durationSeconds: 0.5, statusCode: 500, error: nil, outcome: .retrying(at: 6))
        try #require(transport.reports).attempted(attempt)
        #expect(try notifier.deliveries(leaseID: "lease_1") == [DeliveryRecord(attempt)])
        #expect(try notifier.deliveries(leaseID: "lease_2").isEmpty)
    }
}
