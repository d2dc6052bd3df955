import MetricsTestKit
import PinTestSupport
import Testing

@testable import PinCore

/// What the lease book records for `GET /metrics`: transitions by kind, counted once durable
/// (a change that alters nothing counts nothing), and the per-state counts a scrape reads.
@Suite struct LeaseMetricsTests {
    private func transitions(_ harness: LeaseBookHarness) -> [String: Int64] {
        var counts: [String: Int64] = [:]
        for kind in LeaseTransitionKind.allCases {
            counts[kind.rawValue] = harness.metrics.counterTotal(
                label: "pinlease_lease_transitions_total", dimensions: [("kind", kind.rawValue)])
        }
        return counts.filter { $0.value != 0 }
    }

    @Test(arguments: Backing.allCases)
    func transitionsAreCountedByKind(_ backing: Backing) throws {
        let harness = try LeaseBookHarness(backing)
        defer { harness.close() }
        let book = harness.book
        try harness.makePin("pin_a")
        let released = try harness.grant(on: "pin_a")
        let revoked = try harness.grant(on: "pin_a")
        _ = try harness.grant(on: "pin_a")
        _ = try book.renew(id: released.id, ttlSeconds: nil, caller: .admin)
        _ = try book.release(id: released.id, caller: .admin)
        _ = try book.release(id: released.id, caller: .admin)  // ended already: no transition
        _ = try book.revoke(id: revoked.id, reason: nil, graceSeconds: nil)
        _ = try book.revoke(id: revoked.id, reason: nil, graceSeconds: nil)  // revoking already: none
        #expect(transitions(harness) == ["granted": 3, "renewed": 1, "released": 1, "revoking": 1])
        #expect(book.countsByState == [.active: 1, .revoking: 1, .released: 1, .revoked: 0, .expired: 0])
        #expect(book.indexDiscrepancies() == [])
    }

    @Test func expiryAndForcedEndsAreCounted() throws {
        let harness = try LeaseBookHarness()
        defer { harness.close() }
        try harness.makePin("pin_a")
        let expiring = try harness.grant(on: "pin_a", ttl: 10, grace: 3)
        let revoked = try harness.grant(on: "pin_a", ttl: 600, grace: 3)
        _ = try harness.book.revoke(id: revoked.id, reason: "operator", graceSeconds: nil)
        harness.clock.advance(milliseconds: 10_000)
        #expect(waitUntil { harness.settledState(expiring.id) == .revoking })
        harness.clock.advance(milliseconds: 3_000)
        #expect(waitUntil { harness.settledState(expiring.id) == .expired })
        #expect(waitUntil { harness.settledState(revoked.id) == .revoked })
        #expect(
            waitUntil {
                transitions(harness) == ["granted": 2, "revoking": 1, "expiring": 1, "expired": 1, "revoked": 1]
            })
        #expect(harness.book.countsByState == [.active: 0, .revoking: 0, .released: 0, .revoked: 1, .expired: 1])
    }
}
