import Logging
import Synchronization

/// Loading the leases, timers and unfinished webhooks recorded before a restart.
extension LeaseBook {
    /// Loads every lease recorded before a restart. Active leases keep the TTL they had left
    /// when the daemon stopped (`lastAlive`), revoking leases keep their deadline, a lease whose
    /// pin could not be re-created is revoked (reason `pin-lost`), and unfinished webhooks are
    /// sent again with their original ids.
    func recover(lastAlive: Int64?) throws(CoreError) {
        let records = try store.leases()
        let outbox = try store.outbox()
        let lastSequence = events.lastSequence
        let now = clock.wallMilliseconds()
        let downtime = max(0, now - (lastAlive ?? now))
        var adjusted: [LeaseRecord] = []
        var lost: [String] = []
        var timers: [(TimerKey, Int64)] = []
        book.withLock { book in
            book.nextSequence = lastSequence + 1
            for lease in records.filter(\.state.isEnded).sorted(by: { ($0.endedAt ?? 0) < ($1.endedAt ?? 0) }) {
                book.ended(lease.id)
            }
            for var lease in records {
                if !lease.state.isEnded {
                    do throws(CoreError) {
                        _ = try pins.attachLease(lease.id, to: lease.pinID, recovering: true)
                    } catch {
                        logger.error("lease \(lease.id): its pin \(lease.pinID) is gone: \(error.detail)")
                    }
                    if !pins.isActive(lease.pinID) { lost.append(lease.id) }
                }
                switch lease.state {
                case .active:
                    if downtime > 0 {
                        lease.expiresAt += downtime
                        adjusted.append(lease)
                    }
                    timers.append((.expiry(lease.id), lease.expiresAt))
                case .revoking:
                    timers.append((.deadline(lease.id), lease.deadline ?? now))
                default:
                    break
                }
                book.put(lease)
            }
        }
        if !adjusted.isEmpty {
            // Not fatal (a full state disk must not stop the start): memory holds the adjusted
            // expiries, and the last "alive" time stays, so the next start adjusts the same way.
            do throws(CoreError) { try store.wait(store.enqueue(leases: adjusted)) } catch {
                logger.error("could not record \(adjusted.count) lease expiries moved by the downtime: \(error.detail)")
            }
        }
        // A call to act (revoking, expired) is resent only while it still stands: the lease is
        // revoking with the deadline the message carried. Webhooks first, then the timers, so
        // that a deadline already due cannot cancel a resend that comes after it.
        let (resend, stale, secrets) = book.withLock { book -> ([OutboxEntry], [String], [String: String]) in
            var resend: [OutboxEntry] = []
            var stale: [String] = []
            var secrets: [String: String] = [:]
            for entry in outbox {
                guard let lease = book.leases[entry.leaseID], let secret = lease.webhookSecret else {
                    stale.append(entry.id)
                    continue
                }
                let callToAct = entry.event == .leaseRevoking || entry.event == .leaseExpired
                if callToAct && (lease.state != .revoking || lease.deadline != entry.retryUntil) {
                    stale.append(entry.id)
                    continue
                }
                resend.append(entry)
                secrets[lease.id] = secret
            }
            return (resend, stale, secrets)
        }
        notifier.forget(stale)
        notifier.send(resend, secrets: secrets)
        for (key, due) in timers { timer.set(key, at: due) }
        for id in lost {
            let reason = "pin-lost"
            _ = try? revoke(id: id, reason: reason, graceSeconds: nil)
        }
        logger.info(
            """
            recovered \(records.count) lease(s) (\(timers.count) live, downtime \(downtime) ms, \
            \(resend.count) webhook(s) to resume)
            """
        )
    }
}
