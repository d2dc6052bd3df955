/// The lease transitions `pinlease_lease_transitions_total{kind}` counts: a grant and a
/// renewal (→ active), the start of a revocation (`revoking`: asked for, a violation or a
/// drain; `expiring`: the TTL passed), and the end states (`released`, `revoked`, `expired`).
package enum LeaseTransitionKind: String, CaseIterable, Sendable {
    case granted, renewed, revoking, expiring, released, revoked, expired
}

/// How many transitions of each kind one commit made: counted in the transition (under the
/// book's lock, without allocating) and recorded once the commit is durable.
struct LeaseTransitionTally: Sendable {
    private var counts: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)

    mutating func add(_ kind: LeaseTransitionKind) {
        switch kind {
        case .granted: counts.0 += 1
        case .renewed: counts.1 += 1
        case .revoking: counts.2 += 1
        case .expiring: counts.3 += 1
        case .released: counts.4 += 1
        case .revoked: counts.5 += 1
        case .expired: counts.6 += 1
        }
    }

    /// Calls `body` for each kind counted at least once (no array: this runs on every commit).
    func visitCounted(_ body: (LeaseTransitionKind, Int) -> Void) {
        if counts.0 > 0 { body(.granted, counts.0) }
        if counts.1 > 0 { body(.renewed, counts.1) }
        if counts.2 > 0 { body(.revoking, counts.2) }
        if counts.3 > 0 { body(.expiring, counts.3) }
        if counts.4 > 0 { body(.released, counts.4) }
        if counts.5 > 0 { body(.revoked, counts.5) }
        if counts.6 > 0 { body(.expired, counts.6) }
    }
}
