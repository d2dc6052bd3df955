import PinJSON
import PinWire
import Testing

@testable import PinCore

/// What a transition publishes and queues for webhooks, built without a store: the lease
/// fields each event carries, and how long each kind of webhook message is retried.
@Suite struct LeaseNoticeTests {
    private func lease(_ state: LeaseState, webhook: Bool = true, deadline: Int64? = nil) -> LeaseRecord {
        LeaseRecord(
            id: "lease_1", pinID: "pin_1", path: RootedPath(root: "data", relative: "f.bin"), holder: "rdma-1",
            state: state,
            ttlSeconds: 60, graceSeconds: 10, webhookURL: webhook ? "http://127.0.0.1:9/hooks/a" : nil,
            webhookSecret: webhook ? "whsec_test" : nil, holderUID: nil, autoPin: false, grantedAt: 1_000,
            renewedAt: 1_000,
            expiresAt: 61_000, reason: deadline == nil ? nil : "expired", deadline: deadline)
    }

    @Test func eventsCarryTheLeaseFieldsOfItsStateInSequence() {
        var book = LeaseBook.Book()
        book.nextSequence = 41
        var transition = LeaseBook.Transition()
        book.event(.leaseGranted, lease(.active), at: 1_000, &transition)
        book.event(.leaseExpired, lease(.revoking, deadline: 71_000), at: 61_000, &transition)
        #expect(transition.events.map(\.sequence) == [41, 42])
        #expect(book.nextSequence == 43)
        #expect(transition.events.map(\.holder) == ["rdma-1", "rdma-1"])
        #expect(Set(transition.events[0].data.keys) == ["lease_id", "pin_id", "path", "holder", "state", "expires_at"])
        #expect(
            Set(transition.events[1].data.keys) == [
                "lease_id", "pin_id", "path", "holder", "state", "reason", "deadline",
            ])
        #expect(transition.events[1].timestamp == WallClock.format(milliseconds: 61_000))
    }

    @Test func callsToActAreRetriedUntilTheDeadlineAndFinalNoticesOnTheSchedule() {
        var book = LeaseBook.Book()
        var transition = LeaseBook.Transition()
        book.event(.leaseGranted, lease(.active), at: 1_000, &transition)  // not a webhook event
        #expect(transition.outbox.isEmpty)
        book.event(.leaseExpired, lease(.revoking, deadline: 71_000), at: 61_000, &transition)
        book.event(.leaseRevoked, lease(.expired, deadline: 71_000), at: 72_000, &transition)
        #expect(transition.outbox.map(\.event) == [.leaseExpired, .leaseRevoked])
        #expect(transition.outbox[0].retryUntil == 71_000)  // moot after the deadline
        #expect(!transition.outbox[0].followsRetrySchedule)
        #expect(transition.outbox[1].followsRetrySchedule)
        #expect(transition.outbox[1].retryUntil == 72_000)  // when it was queued: the schedule counts from there
        #expect(transition.outbox.allSatisfy { $0.leaseID == "lease_1" && $0.url == "http://127.0.0.1:9/hooks/a" })
        #expect(Set(transition.outbox.map(\.id)).count == 2)
        #expect(transition.secrets == ["lease_1": "whsec_test"])

        var withoutWebhook = LeaseBook.Transition()
        book.event(.leaseRevoking, lease(.revoking, webhook: false, deadline: 5_000), at: 1_000, &withoutWebhook)
        #expect(withoutWebhook.events.count == 1 && withoutWebhook.outbox.isEmpty && withoutWebhook.secrets.isEmpty)
    }
}
