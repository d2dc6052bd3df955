import Foundation
import PinJSON
import PinTestSupport
import PinWire
import Synchronization
import Testing

@testable import PinCore
@testable import PinStore

/// `LeaseStore`: group-committed writes are visible to another connection when `wait`
/// returns, barriers, the outbox and the delivery log, events in sequence order, pruning, the
/// daemon's clock, and checkpoints. "Visible to another connection" is what a restart sees.
@Suite struct LeaseStoreTests {
    static func lease(_ id: String, grantedAt: Int64 = 1_000, state: LeaseState = .active) -> LeaseRecord {
        LeaseRecord(
            id: id, pinID: "pin_\(id)", path: RootedPath(root: "data", relative: "\(id).bin"), holder: "holder-\(id)",
            state: state, ttlSeconds: 60, graceSeconds: 10, webhookURL: nil, webhookSecret: nil, holderUID: nil,
            autoPin: false, grantedAt: grantedAt, renewedAt: grantedAt, expiresAt: grantedAt + 60_000)
    }

    static func event(_ sequence: UInt64, holder: String? = "h") -> Event {
        Event(
            sequence: sequence, type: .leaseGranted, timestamp: "2026-12-01T00:00:00.000Z",
            data: ["lease_id": .string("l\(sequence)")], holder: holder)
    }

    static func outbox(_ id: String, lease: String) -> OutboxEntry {
        OutboxEntry(
            id: id, leaseID: lease, event: .leaseRevoked, url: "http://127.0.0.1:9/h", body: "{}", retryUntil: 5_000,
            attemptsAfterDeadline: 3)
    }

    /// A second connection on the store's database file: sees only what was committed.
    static func committedCount(_ directory: StoreTestDirectory, _ table: String) throws -> Int64? {
        try SQLiteDatabase(path: directory.file("pinlease.db")).query("SELECT COUNT(*) FROM \(table)").first?.first?.int
    }

    @Test func aWriteIsCommittedAndItsActionRunBeforeWaitReturns() throws {
        let directory = StoreTestDirectory("leasestore")
        defer { directory.remove() }
        let store = try LeaseStore(directory: directory.path)
        let actionRan = Atomic<Bool>(false)
        let ticket = store.enqueue(
            leases: [Self.lease("a")], events: [Self.event(1)], outbox: [Self.outbox("m1", lease: "a")],
            afterCommit: { actionRan.store(true, ordering: .relaxed) })
        try store.wait(ticket)
        let ranBeforeReturn = actionRan.load(ordering: .relaxed)
        #expect(ranBeforeReturn, "afterCommit runs before wait returns")
        #expect(try Self.committedCount(directory, "leases") == 1)
        #expect(try Self.committedCount(directory, "events") == 1)
        #expect(try Self.committedCount(directory, "webhook_outbox") == 1)
        let reopened = try LeaseStore(directory: directory.path)
        #expect(try reopened.lease(id: "a") == Self.lease("a"))
        #expect(try reopened.outbox() == [Self.outbox("m1", lease: "a")])
    }

    @Test func aFailingWriteThrowsAndSkipsItsActionOnly() throws {
        let directory = StoreTestDirectory("leasestore")
        defer { directory.remove() }
        let store = try LeaseStore(directory: directory.path)
        try store.wait(store.enqueue(events: [Self.event(1)]))
        let ran = Mutex<[String]>([])
        let duplicate = store.enqueue(events: [Self.event(1)], afterCommit: { ran.withLock { $0.append("duplicate") } })
        let next = store.enqueue(events: [Self.event(2)], afterCommit: { ran.withLock { $0.append("next") } })
        #expect(throws: CoreError.self) { try store.wait(duplicate) }
        try store.wait(next)
        #expect(ran.withLock { $0 } == ["next"])
        #expect(store.events(after: 0, limit: 10).map(\.sequence) == [1, 2])
    }

    /// A lease row keeps what never changes (pin, holder, secret, grant time) when saved again.
    @Test func savingALeaseAgainUpdatesOnlyItsMutableColumns() throws {
        let directory = StoreTestDirectory("leasestore")
        defer { directory.remove() }
        let store = try LeaseStore(directory: directory.path)
        var original = Self.lease("a")
        original.webhookURL = "http://127.0.0.1:9/h"
        original.webhookSecret = "whsec_1"
        original.holderUID = 4_000_000_000
        try store.wait(store.enqueue(leases: [original]))
        var changed = original
        changed.state = .revoking
        changed.ttlSeconds = 120
        changed.renewedAt = 2_000
        changed.expiresAt = 122_000
        changed.reason = "expired"
        changed.deadline = 130_000
        changed.endedAt = 140_000
        var ignored = changed
        ignored.pinID = "pin_other"
        ignored.holder = "someone-else"
        ignored.webhookSecret = "whsec_2"
        ignored.grantedAt = 9
        try store.wait(store.enqueue(leases: [ignored]))
        #expect(try LeaseStore(directory: directory.path).lease(id: "a") == changed)
    }

    @Test func aBarrierIsDoneOnceEveryEarlierWriteIsCommitted() throws {
        let directory = StoreTestDirectory("leasestore")
        defer { directory.remove() }
        let store = try LeaseStore(directory: directory.path)
        #expect(store.barrier() == nil, "nothing pending: nothing to wait for")
        let write = store.enqueue(leases: [Self.lease("a")])
        let barrier = try #require(store.barrier())
        try store.wait(barrier)
        #expect(try Self.committedCount(directory, "leases") == 1, "the write queued before the barrier is committed")
        try store.wait(write)
        #expect(store.barrier() == nil)
    }

    @Test func eventsAreReadInSequenceOrderAfterAGivenSequence() throws {
        let directory = StoreTestDirectory("leasestore")
        defer { directory.remove() }
        let store = try LeaseStore(directory: directory.path)
        #expect(try store.lastEventSequence() == 0)
        try store.wait(store.enqueue(events: [Self.event(5), Self.event(2, holder: nil)]))
        try store.wait(store.enqueue(events: [Self.event(9)]))
        #expect(store.events(after: 0, limit: 10) == [Self.event(2, holder: nil), Self.event(5), Self.event(9)])
        #expect(store.events(after: 2, limit: 1).map(\.sequence) == [5])
        #expect(store.events(after: 9, limit: 10).isEmpty)
        #expect(try LeaseStore(directory: directory.path).lastEventSequence() == 9, "the sequence survives a restart")
    }

    @Test func deliveriesAndOutboxProgressAreRecorded() throws {
        let directory = StoreTestDirectory("leasestore")
        defer { directory.remove() }
        let store = try LeaseStore(directory: directory.path)
        try store.wait(
            store.enqueue(
                leases: [Self.lease("a"), Self.lease("b")],
                outbox: [Self.outbox("m1", lease: "a"), Self.outbox("m2", lease: "a"), Self.outbox("m3", lease: "b")]))
        try store.recordDeliveries(
            [
                Self.delivery("a", 1), Self.delivery("b", 2),
                Self.delivery("a", 3),
            ],
            outbox: [
                .attempted(id: "m1", attempts: 1, nextAttemptAt: 7_000),
                .finished(id: "m2", outcome: "delivered", at: 8_000),
            ])
        #expect(try store.deliveries(leaseID: "a") == [Self.delivery("a", 1), Self.delivery("a", 3)])
        #expect(try store.deliveries(leaseID: "nobody").isEmpty)
        #expect(try store.outbox().map(\.id) == ["m1", "m3"], "pending ones, oldest first")
        // A retry without a new time keeps the one recorded.
        try store.recordDeliveries([], outbox: [.attempted(id: "m1", attempts: 2, nextAttemptAt: nil)])
        let m1 = try #require(try store.outboxEntry(id: "m1"))
        #expect(m1.attempts == 2 && m1.nextAttemptAt == 7_000 && m1.finishedAt == nil)
        try store.recordDeliveries([], outbox: [.finished(id: "m1", outcome: "HTTP 500 after 2 attempts", at: 9_000)])
        #expect(try store.outboxEntry(id: "m1")?.outcome == "HTTP 500 after 2 attempts")
        try store.recordDeliveries([], outbox: [.reopened(id: "m2", attempts: 1, at: 10_000)])
        let m2 = try #require(try LeaseStore(directory: directory.path).outboxEntry(id: "m2"))
        #expect(m2.finishedAt == nil && m2.outcome == nil && m2.nextAttemptAt == 10_000)
        #expect(try store.outbox().map(\.id) == ["m2", "m3"])
        // A message finished with its transition (enqueue's `finishedOutbox`) is gone at once.
        try store.wait(store.enqueue(finishedOutbox: ["m3"]))
        #expect(try store.outboxEntry(id: "m3") == nil)
    }

    @Test func pruningForgetsEndedLeasesWithTheirMessagesAndOldEvents() throws {
        let directory = StoreTestDirectory("leasestore")
        defer { directory.remove() }
        let store = try LeaseStore(directory: directory.path)
        try store.wait(
            store.enqueue(
                leases: [Self.lease("ended", state: .released), Self.lease("kept")],
                events: (1...4).map { Self.event($0) },
                outbox: [Self.outbox("m1", lease: "ended"), Self.outbox("m2", lease: "kept")]))
        try store.recordDeliveries(
            [Self.delivery("ended", 1), Self.delivery("kept", 2)],
            outbox: [])
        try store.prune(endedLeases: ["ended"], eventsUpTo: 2)
        let reopened = try LeaseStore(directory: directory.path)
        #expect(try reopened.leases().map(\.id) == ["kept"])
        #expect(
            try reopened.deliveries(leaseID: "ended").isEmpty
                && reopened.deliveries(leaseID: "kept") == [Self.delivery("kept", 2)])
        #expect(try reopened.outboxEntry(id: "m1") == nil && reopened.outboxEntry(id: "m2") != nil)
        #expect(reopened.events(after: 0, limit: 10).map(\.sequence) == [3, 4])
        #expect(try reopened.lastEventSequence() == 4)
        try store.prune(endedLeases: [], eventsUpTo: nil)  // nothing to do
        #expect(store.events(after: 0, limit: 10).count == 2)
    }

    @Test func leasesAreListedByGrantTimeThenID() throws {
        let directory = StoreTestDirectory("leasestore")
        defer { directory.remove() }
        let store = try LeaseStore(directory: directory.path)
        try store.wait(
            store.enqueue(leases: [
                Self.lease("c", grantedAt: 5), Self.lease("b", grantedAt: 9), Self.lease("a", grantedAt: 9),
            ]))
        #expect(try store.leases().map(\.id) == ["c", "a", "b"])
        #expect(try store.lease(id: "missing") == nil)
    }

    @Test func theDaemonClockIsKeptAcrossARestart() throws {
        let directory = StoreTestDirectory("leasestore")
        defer { directory.remove() }
        let store = try LeaseStore(directory: directory.path)
        #expect(try store.lastAlive() == nil)
        try store.markAlive(at: 1_764_000_000_000)
        try store.markAlive(at: 1_764_000_001_000)
        #expect(try LeaseStore(directory: directory.path).lastAlive() == 1_764_000_001_000)
    }

    @Test func aCheckpointCopiesTheLogIntoTheDatabase() throws {
        let directory = StoreTestDirectory("leasestore")
        defer { directory.remove() }
        let store = try LeaseStore(directory: directory.path)
        try store.wait(store.enqueue(leases: [Self.lease("a")], events: (1...20).map { Self.event($0) }))
        let result = try store.checkpointReporting()
        #expect(!result.busy && result.logFrames > 0 && result.checkpointedFrames == result.logFrames, "\(result)")
        #expect(try LeaseStore(directory: directory.path).events(after: 0, limit: 100).count == 20)
    }

    /// Attempt `n` (1-based) of a message of lease `leaseID`.
    static func delivery(_ leaseID: String, _ n: Int) -> DeliveryRecord {
        DeliveryRecord(
            messageID: "msg_\(leaseID)", leaseID: leaseID, event: .leaseRevoking, url: "http://127.0.0.1:1/h",
            attempt: n,
            startedAt: 1_764_000_000_000 + Int64(n), durationMilliseconds: 3, statusCode: 500, error: nil,
            outcome: .retrying(atMilliseconds: 1_764_000_005_000))
    }

}
