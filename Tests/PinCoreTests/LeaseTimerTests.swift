import Foundation
import PinTestSupport
import Testing

@testable import PinCore

/// Expiry by TTL and deadlines of revocations, on a clock the test moves: the book's timer
/// thread fires within about a second of the move, and the test waits for the state it expects.
@Suite struct LeaseTimerTests {
    @Test func aLeaseNotRenewedExpiresThenEndsAtItsGraceDeadline() throws {
        let harness = try LeaseBookHarness()
        defer { harness.close() }
        try harness.makePin("pin_a")
        let lease = try harness.grant(on: "pin_a", ttl: 10, grace: 3)
        harness.clock.advance(milliseconds: 10_000)
        #expect(waitUntil { harness.settledState(lease.id) == .revoking })
        let revoking = try harness.book.record(id: lease.id, caller: .admin)
        #expect(revoking.reason == RevokeReason.expired)
        let deadline = try #require(revoking.deadline)
        #expect(deadline >= lease.record.expiresAt + 3_000)
        #expect(try harness.stored(lease.id)?.state == .revoking)

        harness.clock.advance(milliseconds: deadline - harness.clock.wallMilliseconds)
        #expect(waitUntil { harness.settledState(lease.id) == .expired })
        // Acted on once durable (on the committing thread, so the test waits for that too).
        #expect(waitUntil { harness.eventTypes == [.leaseGranted, .leaseExpired, .leaseRevoked] })
        #expect(waitUntil { harness.ended.all == [lease.id] })
        #expect(waitUntil { (try? harness.pins.pin(id: "pin_a").leaseIDs) == [] })
    }

    @Test func aRevocationNotAnsweredIsForcedAtItsDeadline() throws {
        let harness = try LeaseBookHarness()
        defer { harness.close() }
        try harness.makePin("pin_a")
        let lease = try harness.grant(on: "pin_a", ttl: 600, grace: 5)
        _ = try harness.book.revoke(id: lease.id, reason: "operator", graceSeconds: nil)
        harness.clock.advance(milliseconds: 5_000)
        #expect(waitUntil { harness.settledState(lease.id) == .revoked })
        let ended = try #require(try harness.stored(lease.id))
        #expect(ended.state == .revoked && ended.reason == "operator")
        #expect(waitUntil { harness.eventTypes == [.leaseGranted, .leaseRevoking, .leaseRevoked] })
        // Ended: renewing is refused, releasing answers with the lease as it is.
        #expect(
            errorCode { _ = try harness.book.renew(id: lease.id, ttlSeconds: nil, caller: .admin) } == .leaseNotActive)
        #expect(try harness.book.release(id: lease.id, caller: .admin).record == ended)
    }

    /// A renewal replaces the expiry: the old one, due earlier than another lease's expiry,
    /// must not fire when that other lease's does (timers fire in due order).
    @Test func aRenewalMovesTheExpiry() throws {
        let harness = try LeaseBookHarness()
        defer { harness.close() }
        try harness.makePin("pin_a")
        let renewed = try harness.grant(on: "pin_a", ttl: 10)
        let witness = try harness.grant(on: "pin_a", ttl: 12)
        harness.clock.advance(milliseconds: 8_000)
        _ = try harness.book.renew(id: renewed.id, ttlSeconds: nil, caller: .admin)
        harness.clock.advance(milliseconds: 4_000)  // past the first expiry (10 s) and the witness's (12 s)
        #expect(waitUntil { harness.settledState(witness.id) == .revoking })
        #expect(harness.state(renewed.id) == .active)
        harness.clock.advance(milliseconds: 6_000)  // 8 + 10 s: the renewed expiry
        #expect(waitUntil { harness.settledState(renewed.id) == .revoking })
    }

    /// A lease released before its expiry is not expired (the release cancels the timer, and
    /// the timer checks the lease again under the lock when it fires).
    @Test func anExpiryOfAnEndedLeaseChangesNothing() throws {
        let harness = try LeaseBookHarness()
        defer { harness.close() }
        try harness.makePin("pin_a")
        let released = try harness.grant(on: "pin_a", ttl: 10)
        let witness = try harness.grant(on: "pin_a", ttl: 10)
        let record = try harness.book.release(id: released.id, caller: .admin).record
        harness.clock.advance(milliseconds: 10_000)
        #expect(waitUntil { harness.settledState(witness.id) == .revoking })
        #expect(try harness.stored(released.id) == record)
    }
}
