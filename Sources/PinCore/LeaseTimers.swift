import Logging

/// Expiry and deadline timers: an active lease expires at `expires_at` (→ revoking, reason
/// `expired`), a revoking lease is forced at its deadline. Both are checked again under the
/// lock when they fire, so a renewal or release that wins the race stands.
extension LeaseBook {
    enum TimerKey: Hashable, Sendable {
        case expiry(String)
        case deadline(String)
    }

    /// Expiries and deadlines that came due (on the timer thread), in one transition. The log
    /// gets one line per kind per batch, not one per lease (100k leases due at once would be
    /// 100k lines): each lease's change is in its events (`lease.expired`, `lease.revoked`).
    func fire(_ keys: [TimerKey]) {
        do throws(CoreError) {
            let (expired, forced) = try transition { book, transition, now in
                var expired: [String] = []
                var forced: [String] = []
                for key in keys {
                    switch key {
                    case .expiry(let id):
                        guard let lease = book.leases[id], lease.state == .active, lease.expiresAt <= now else {
                            continue
                        }
                        _ = startRevoking(
                            lease, reason: RevokeReason.expired, graceMilliseconds: Int64(lease.graceSeconds) * 1000,
                            at: now, &book, &transition, logged: false)
                        expired.append(id)
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
                        forced.append("\(id) (\(lease.reason ?? "revoked"))")
                    }
                }
                return (expired, forced)
            }
            if !expired.isEmpty {
                logger.info("expired \(Self.summary(expired)): revoking, each with its own grace period")
            }
            if !forced.isEmpty {
                logger.warning("forced \(Self.summary(forced)) at the deadline: the holder did not release it")
            }
        } catch {
            logger.error("lease timers: \(error.detail)")  // the change itself throws nothing
        }
    }

    /// How many items a batch's log line names before it only counts the rest.
    static let itemsNamedPerLine = 10

    /// "lease_a (expired)", or "3 leases: lease_a (…), lease_b (…), lease_c (…)", naming at
    /// most ``itemsNamedPerLine`` of them ("… and 99,990 more (see the events)").
    static func summary(_ items: [String]) -> String {
        guard items.count > 1 else { return items.first ?? "no lease" }
        let named = items.prefix(itemsNamedPerLine).joined(separator: ", ")
        let rest = items.count - min(items.count, itemsNamedPerLine)
        return "\(items.count) leases: \(named)" + (rest > 0 ? " and \(rest) more (each in the events)" : "")
    }
}
