import Logging

/// Expiry and deadline timers: an active lease expires at `expires_at` (→ revoking, reason
/// `expired`), a revoking lease is forced at its deadline. Both are checked again under the
/// lock when they fire, so a renewal or release that wins the race stands.
extension LeaseBook {
    enum TimerKey: Hashable, Sendable {
        case expiry(String)
        case deadline(String)
    }

    /// Expiries and deadlines that came due (on the timer thread), in one transition.
    func fire(_ keys: [TimerKey]) {
        do throws(CoreError) {
            try transition { book, transition, now in
                for key in keys {
                    switch key {
                    case .expiry(let id):
                        guard let lease = book.leases[id], lease.state == .active, lease.expiresAt <= now else {
                            continue
                        }
                        _ = startRevoking(
                            lease, reason: RevokeReason.expired, graceMilliseconds: Int64(lease.graceSeconds) * 1000,
                            at: now, &book, &transition)
                    case .deadline(let id):
                        guard var lease = book.leases[id], lease.state == .revoking, let deadline = lease.deadline,
                            deadline <= now
                        else { continue }
                        lease.state = lease.reason == RevokeReason.expired ? .expired : .revoked
                        lease.endedAt = now
                        book.put(lease)
                        book.ended(id)
                        end(lease, &transition)
                        book.event(.leaseRevoked, lease, at: now, &transition)
                        logger.warning(
                            "forced \(id) at its deadline (\(lease.reason ?? "revoked")): the holder did not release it"
                        )
                    }
                }
            }
        } catch {
            logger.error("lease timers: \(error.detail)")  // the change itself throws nothing
        }
    }
}
