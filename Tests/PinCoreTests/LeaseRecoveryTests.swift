import Foundation
import PinStore
import PinTestSupport
import Testing

@testable import PinCore

/// A restart: a new book over the state an earlier one left (the same in-memory journal, or
/// the SQLite state database reopened), recovering its leases.
@Suite struct LeaseRecoveryTests {
    @Test(arguments: Backing.allCases)
    func leasesComeBackWithTheirStatesTimersAndEventSequence(_ backing: Backing) throws {
        let first = try LeaseBookHarness(backing)
        defer { try? FileManager.default.removeItem(atPath: first.directory) }
        try first.makePin("pin_a")
        try first.makePin("pin_lost")
        let active = try first.grant(on: "pin_a", ttl: 60, grace: 10)
        let revoking = try first.grant(on: "pin_a", ttl: 60, grace: 50)
        _ = try first.book.revoke(id: revoking.id, reason: "operator", graceSeconds: nil)
        let released = try first.grant(on: "pin_a")
        _ = try first.book.release(id: released.id, caller: .admin)
        let onLostPin = try first.grant(on: "pin_lost", grace: 5)
        let stoppedAt = first.clock.wallMilliseconds
        let lastSequence = first.events.lastSequence
        first.stop()

        // Down for 30 s. Pin "pin_lost" could not be re-created: it is recorded as failed.
        let clock = first.clock
        clock.advance(milliseconds: 30_000)
        let second = try LeaseBookHarness(restarting: first, clock: clock)
        defer { second.close() }
        try second.makePin("pin_a")
        second.pins.fail(second.pinRecord("pin_lost"), reason: "gone")
        try second.book.recover(lastAlive: stoppedAt)

        // An active lease keeps the TTL it had left: its expiry moves by the downtime.
        let back = try second.book.record(id: active.id, caller: .admin)
        #expect(back.state == .active && back.expiresAt == active.record.expiresAt + 30_000)
        #expect(try second.stored(active.id)?.expiresAt == back.expiresAt)
        #expect(second.state(revoking.id) == .revoking)
        #expect(second.state(released.id) == .released)
        #expect(Set(try second.pins.pin(id: "pin_a").leaseIDs) == [active.id, revoking.id])
        // The lease whose pin is gone is revoked (pin-lost), in events continuing the sequence.
        let lost = try second.book.record(id: onLostPin.id, caller: .admin)
        #expect(lost.state == .revoking && lost.reason == "pin-lost")
        let newEvents = second.events.events(after: lastSequence, limit: 10)
        #expect(newEvents.map(\.sequence) == [lastSequence + 1])
        #expect(newEvents.map(\.type) == [.leaseRevoking])
        #expect(second.book.indexDiscrepancies() == [])
        #expect(second.book.liveCount == 3)

        // The recovered timers run: the revoking lease is forced at its deadline (50 s after
        // the revocation: a downtime does not move it), the active one expires later.
        second.clock.advance(milliseconds: 20_000)
        #expect(waitUntil { second.settledState(revoking.id) == .revoked })
        #expect(second.state(active.id) == .active)
        second.clock.advance(milliseconds: back.expiresAt - second.clock.wallMilliseconds)
        #expect(waitUntil { second.settledState(active.id) == .revoking })
    }

    @Test(arguments: Backing.allCases)
    func endedLeasesBeyondTheKeptNumberAreForgottenOldestFirst(_ backing: Backing) throws {
        let harness = try LeaseBookHarness(backing)
        defer { harness.close() }
        try harness.makePin("pin_a")
        var endedIDs: [String] = []
        for _ in 0..<5 {
            let lease = try harness.grant(on: "pin_a")
            harness.clock.advance(milliseconds: 1)
            _ = try harness.book.release(id: lease.id, caller: .admin)
            endedIDs.append(lease.id)
        }
        let live = try harness.grant(on: "pin_a")
        harness.book.prune(keepingEnded: 2)
        #expect(Set(try harness.store.leases().map(\.id)) == Set(endedIDs.suffix(2) + [live.id]))
        #expect(errorCode { _ = try harness.book.lease(id: endedIDs[0], caller: .admin) } == .leaseNotFound)
        #expect(harness.book.list(LeaseFilter(), caller: .admin).leases.map(\.id) == endedIDs.suffix(2) + [live.id])
        #expect(harness.book.indexDiscrepancies() == [])
    }
}
