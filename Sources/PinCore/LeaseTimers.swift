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
                var expired = LoggedBatch()
                var forced = LoggedBatch()
                for key in keys {
                    switch key {
                    case .expiry(let id):
                        guard let lease = book.leases[id], lease.state == .active, lease.expiresAt <= now else {
                            continue
                        }
                        _ = startRevoking(
                            lease, reason: RevokeReason.expired, graceMilliseconds: Int64(lease.graceSeconds) * 1000,
                            at: now, &book, &transition, logged: false)
                        expired.add(id)
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
                        forced.add("\(id) (\(lease.reason ?? "revoked"))")
                    }
                }
                return (expired, forced)
            }
            if expired.count > 0 {
                logger.info("expired \(expired.summary): revoking, each with its own grace period")
            }
            if forced.count > 0 {
                logger.warning("forced \(forced.summary) at the deadline: the holder did not release it")
            }
        } catch {
            logger.error("lease timers: \(error.detail)")  // the change itself throws nothing
        }
    }
}

/// The leases of one timer batch as its log line names them: the first
/// ``itemsNamedPerLine``, then only a count (a description is built only for those named).
struct LoggedBatch {
    /// How many items a batch's log line names before it only counts the rest.
    static let itemsNamedPerLine = 10
    private(set) var named: [String] = []
    private(set) var count = 0

    mutating func add(_ item: @autoclosure () -> String) {
        count += 1
        if named.count < Self.itemsNamedPerLine { named.append(item()) }
    }

    /// "lease_a (expired)", or "3 leases: lease_a (…), lease_b (…), lease_c (…)", naming at
    /// most ``itemsNamedPerLine`` of them ("… and 99,990 more (each in the events)").
    var summary: String {
        guard count > 1 else { return named.first ?? "no lease" }
        let rest = count - named.count
        return "\(count) leases: \(named.joined(separator: ", "))"
            + (rest > 0 ? " and \(rest) more (each in the events)" : "")
    }
}
