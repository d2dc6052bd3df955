import Foundation
import PinStore
import PinTestSupport
import Testing

@testable import PinCore

/// The lease state machine on its own (no daemon, no root): every transition a client can ask
/// for, what it records durably, what it publishes, and the transitions that change nothing.
/// Every scenario runs twice: over the in-memory fakes and over the real SQLite stores, so the
/// fakes cannot drift from what the real store does unnoticed.
@Suite struct LeaseStateMachineTests {
    private func withHarness(
        _ backing: Backing, policy: LeasePolicy = LeasePolicy(), _ body: (LeaseBookHarness) throws -> Void
    ) throws {
        let harness = try LeaseBookHarness(backing, policy: policy)
        defer { harness.close() }
        try body(harness)
    }

    @Test(arguments: Backing.allCases)
    func grantRenewReleaseAreDurableAndPublished(_ backing: Backing) throws {
        try withHarness(backing) { harness in
            let book = harness.book
            try harness.makePin("pin_a")
            let start = harness.clock.wallMilliseconds
            let lease = try harness.grant(on: "pin_a", ttl: 60, grace: 10)
            #expect(lease.state == .active)
            #expect(lease.record.expiresAt == start + 60_000)
            #expect(try harness.stored(lease.id) == lease.record)  // durable before the answer
            #expect(try harness.pins.pin(id: "pin_a").leaseIDs == [lease.id])

            harness.clock.advance(milliseconds: 30_000)
            let renewed = try book.renew(id: lease.id, ttlSeconds: 90, caller: .holder("rdma-1"))
            #expect(renewed.record.expiresAt == start + 30_000 + 90_000)
            #expect(renewed.record.ttlSeconds == 90 && renewed.record.renewedAt == start + 30_000)
            #expect(try harness.stored(lease.id)?.expiresAt == renewed.record.expiresAt)

            let released = try book.release(id: lease.id, caller: .holder("rdma-1"))
            #expect(released.state == .released && released.record.endedAt == start + 30_000)
            #expect(try harness.stored(lease.id)?.state == .released)
            #expect(try harness.pins.pin(id: "pin_a").leaseIDs == [])
            #expect(harness.ended.all == [lease.id])
            #expect(harness.eventTypes == [.leaseGranted, .leaseReleased])  // a renewal publishes nothing
            #expect(book.liveCount == 0)
            #expect(book.indexDiscrepancies() == [])
        }
    }

    @Test(arguments: Backing.allCases)
    func revokeStartsTwoPhasesThatTheHolderEndsByReleasing(_ backing: Backing) throws {
        try withHarness(backing) { harness in
            let book = harness.book
            try harness.makePin("pin_a")
            let start = harness.clock.wallMilliseconds
            let lease = try harness.grant(on: "pin_a", grace: 10)
            let (revoking, started) = try book.revoke(id: lease.id, reason: nil, graceSeconds: nil)
            #expect(started)
            #expect(revoking.state == .revoking && revoking.record.reason == RevokeReason.requested)
            #expect(revoking.record.deadline == start + 10_000)  // the lease's own grace
            #expect(try harness.stored(lease.id)?.state == .revoking)

            // Revoking again: a later deadline changes nothing, an earlier one shortens it.
            let (later, startedAgain) = try book.revoke(id: lease.id, reason: "other", graceSeconds: 20)
            #expect(
                !startedAgain && later.record.deadline == start + 10_000
                    && later.record.reason == RevokeReason.requested)
            let (shorter, _) = try book.revoke(id: lease.id, reason: nil, graceSeconds: 2)
            #expect(shorter.record.deadline == start + 2_000)
            #expect(try harness.stored(lease.id)?.deadline == start + 2_000)

            let released = try book.release(id: lease.id, caller: .admin)
            #expect(released.state == .released)
            #expect(harness.eventTypes == [.leaseGranted, .leaseRevoking, .leaseRevoking, .leaseReleased])
        }
    }

    @Test(arguments: Backing.allCases)
    func transitionsOfEndedOrRevokingLeasesChangeNothing(_ backing: Backing) throws {
        try withHarness(backing) { harness in
            let book = harness.book
            try harness.makePin("pin_a")
            let ended = try harness.grant(on: "pin_a")
            let released = try book.release(id: ended.id, caller: .admin).record
            let revoking = try book.revoke(id: try harness.grant(on: "pin_a").id, reason: nil, graceSeconds: 30).0
                .record
            let eventsBefore = harness.events.lastSequence
            harness.clock.advance(milliseconds: 1_000)

            // Releasing an ended lease, revoking an ended or a revoking lease: answered as they are.
            #expect(try book.release(id: ended.id, caller: .admin).record == released)
            let (again, started) = try book.revoke(id: ended.id, reason: nil, graceSeconds: 0)
            #expect(again.record == released && !started)
            let (stillRevoking, startedAgain) = try book.revoke(id: revoking.id, reason: nil, graceSeconds: nil)
            #expect(stillRevoking.record == revoking && !startedAgain)
            #expect(harness.events.lastSequence == eventsBefore)
            #expect(try harness.stored(ended.id) == released)
            #expect(try harness.stored(revoking.id) == revoking)

            // Renewing is for active leases only.
            #expect(errorCode { _ = try book.renew(id: ended.id, ttlSeconds: nil, caller: .admin) } == .leaseNotActive)
            #expect(
                errorCode { _ = try book.renew(id: revoking.id, ttlSeconds: nil, caller: .admin) } == .leaseNotActive)
            #expect(try harness.stored(ended.id) == released)
        }
    }

    private static func violated() throws(CoreError) {
        throw CoreError(.fileViolated, "the file was found violated")
    }

    @Test(arguments: Backing.allCases)
    func refusedGrantsRecordNothingAndLeaveThePinAlone(_ backing: Backing) throws {
        try withHarness(backing) { harness in
            let book = harness.book
            try harness.makePin("pin_a")
            #expect(errorCode { _ = try harness.grant(on: "pin_a", ttl: 0) } == .invalidTTL)
            #expect(errorCode { _ = try harness.grant(on: "pin_a", grace: 100_000) } == .invalidGrace)
            #expect(errorCode { _ = try harness.grant(on: "pin_a", holder: "a b") } == .invalidHolder)
            #expect(
                errorCode { _ = try harness.grant(on: "pin_a", webhook: "http://elsewhere.example/") }
                    == .webhookNotAllowed)
            #expect(errorCode { _ = try harness.grant(on: "pin_missing") } == .pinNotFound)
            let request = LeaseGrantRequest(target: .pin(id: "pin_a"), holder: "rdma-1")
            do throws(CoreError) {
                _ = try book.grant(
                    pinID: "pin_a", try book.checkGrant(request), autoPin: false, admissible: Self.violated)
                Issue.record("a grant the admissibility check refused was made")
            } catch {
                #expect(error.code == .fileViolated)
            }
            book.refuseGrants()
            #expect(errorCode { _ = try harness.grant(on: "pin_a") } == .draining)
            #expect(try harness.pins.pin(id: "pin_a").leaseIDs == [])
            #expect(try harness.store.leases().isEmpty)
            #expect(harness.events.lastSequence == 0)
            #expect(book.list(LeaseFilter(), caller: .admin).leases.isEmpty)
        }
    }

    @Test(arguments: Backing.allCases)
    func aHolderSeesAndChangesOnlyItsOwnLeases(_ backing: Backing) throws {
        try withHarness(backing) { harness in
            let book = harness.book
            try harness.makePin("pin_a")
            let lease = try harness.grant(on: "pin_a", holder: "alice")
            #expect(errorCode { _ = try book.lease(id: lease.id, caller: .holder("bob")) } == .leaseNotFound)
            #expect(
                errorCode { _ = try book.renew(id: lease.id, ttlSeconds: nil, caller: .holder("bob")) }
                    == .leaseNotFound)
            #expect(errorCode { _ = try book.release(id: lease.id, caller: .holder("bob")) } == .leaseNotFound)
            #expect(
                errorCode { _ = try book.revoke(id: "lease_nope", reason: nil, graceSeconds: nil) } == .leaseNotFound)
            #expect(try book.lease(id: lease.id, caller: .holder("alice")).state == .active)
            #expect(book.list(LeaseFilter(), caller: .holder("bob")).leases.isEmpty)
        }
    }

    @Test(arguments: Backing.allCases)
    func theLastLeaseOfAnAutoPinTearsItDown(_ backing: Backing) throws {
        try withHarness(backing) { harness in
            let book = harness.book
            try harness.makePin("pin_auto", autoPin: true)
            let first = try harness.grant(on: "pin_auto", autoPin: true)
            let second = try harness.grant(on: "pin_auto", autoPin: true)
            _ = try book.release(id: first.id, caller: .admin)
            #expect(harness.tornDown.all.isEmpty)  // one lease still uses it
            _ = try book.revoke(id: second.id, reason: nil, graceSeconds: 5)
            _ = try book.release(id: second.id, caller: .admin)
            #expect(waitUntil { harness.tornDown.all == ["pin_auto"] })
            #expect(waitUntil { errorCode { _ = try harness.pins.pin(id: "pin_auto") } == .pinNotFound })
        }
    }
}
