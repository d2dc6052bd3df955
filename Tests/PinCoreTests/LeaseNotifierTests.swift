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

    private func notifier(_ transport: RecordingTransport) throws -> LeaseNotifier {
        LeaseNotifier(
            configuration: WebhookConfiguration(allowList: try WebhookAllowList(prefixes: [])), store: MemoryJournal(),
            logger: Logger(label: "test"),
            makeTransport: { _, _, reports in
                transport.reports = reports
                return transport
            })
    }

    @Test func messagesCarryTheOutboxStateAndOnlyCallsToActHaveADeadline() throws {
        let transport = RecordingTransport()
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
        #expect(sent.map(\.message?.followsRetrySchedule) == [false, true], "a final notice follows the retry schedule")
        #expect(sent.first?.message?.attemptsMade == 2 && sent.first?.message?.firstAttemptAt == 7)
        #expect(sent.first?.message?.retryUntil == 5 && sent.first?.message?.secret == "whsec_AAAA")

        notifier.cancel(leaseID: "lease_1")
        #expect(transport.calls.withLock { $0.last?.id } == "cancel lease_1 [lease.expired, lease.revoking]",
                "only the calls to act are cancelled: final notices are still delivered")
    }

    @Test func reportedAttemptsAreInTheDeliveryLogBeforeTheyAreWritten() throws {
        let transport = RecordingTransport()
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

/// A transport that records every call.
private final class RecordingTransport: WebhookTransport, @unchecked Sendable {
    struct Call { var id: String; var message: WebhookMessage? }
    let calls = Mutex<[Call]>([])
    var reports: WebhookDeliveryReports?

    func send(_ message: WebhookMessage) {
        calls.withLock { $0.append(Call(id: "send \(message.id)", message: message)) }
    }
    func redeliver(_ message: WebhookMessage) {
        calls.withLock { $0.append(Call(id: "redeliver \(message.id)", message: message)) }
    }
    func cancel(leaseID: String, eventTypes: Set<EventType>?) {
        let types = (eventTypes ?? []).map(\.rawValue).sorted().joined(separator: ", ")
        calls.withLock { $0.append(Call(id: "cancel \(leaseID) [\(types)]", message: nil)) }
    }
    var pendingCount: Int { 0 }
    func shutdown() {}
    func run() async throws {}
}

/// A journal that keeps nothing but the delivery log.
private final class MemoryJournal: LeaseJournal {
    private let log = Mutex<[DeliveryRecord]>([])

    private struct Done: CommitTicket { func wait() throws(CoreError) {} }

    func enqueue(
        leases: [LeaseRecord], events: [Event], outbox: [OutboxEntry], finishedOutbox: [String],
        afterCommit: (@Sendable () -> Void)?
    ) -> any CommitTicket {
        afterCommit?()
        return Done()
    }
    func barrier() -> (any CommitTicket)? { nil }
    func recordDeliveries(_ records: [DeliveryRecord], outbox updates: [OutboxUpdate]) throws(CoreError) {
        log.withLock { $0 += records }
    }
    func markAlive(at milliseconds: Int64) throws(CoreError) {}
    func prune(endedLeases: [String], eventsUpTo sequence: UInt64?) throws(CoreError) {}
    func checkpoint() throws(CoreError) {}
    func leases() throws(CoreError) -> [LeaseRecord] { [] }
    func lease(id: String) throws(CoreError) -> LeaseRecord? { nil }
    func events(after sequence: UInt64, limit: Int) -> [Event] { [] }
    func lastEventSequence() throws(CoreError) -> UInt64 { 0 }
    func outbox() throws(CoreError) -> [OutboxEntry] { [] }
    func outboxEntry(id: String) throws(CoreError) -> OutboxEntry? { nil }
    func deliveries(leaseID: String) throws(CoreError) -> [DeliveryRecord] {
        log.withLock { $0.filter { $0.leaseID == leaseID } }
    }
    func lastAlive() throws(CoreError) -> Int64? { nil }
}
