import Logging
import Synchronization

/// Revoking every lease of some pins at once (violations, kernel lease breaks, drain).
extension LeaseBook {
    /// Revokes every live lease on `pinIDs` for `reason`, each with its own grace but no later
    /// than `latestDeadline`; `announce` (a file event) is published in the same transition.
    /// Returns the leases now revoking.
    ///
    /// The leases are revoked in transitions of ``revokeAllChunk`` leases each, so that the
    /// first holders are told while the rest are still being recorded.
    @discardableResult
    func revokeAll(
        onPins pinIDs: Set<String>, reason: String, latestDeadline: Int64?, announce: (EventType, EventPayload)? = nil
    ) -> [LeaseRecord] {
        let ids = liveLeases(onPins: pinIDs).map(\.id)
        let started = ContinuousClock.now
        defer {
            if ids.count > 1 {
                logger.notice("revoked \(ids.count) lease(s) (\(reason)) in \(ContinuousClock.now - started)")
            }
        }
        var announcement: Announcement = announce.map { .publish($0, $1) } ?? .none
        var revoking: [LeaseRecord] = []
        var start = 0
        repeat {
            let chunk = Array(ids[start..<min(ids.count, start + Self.revokeAllChunk)])
            let (revoked, published) = revokeChunk(
                chunk, reason: reason, latestDeadline: latestDeadline, announce: announcement)
            revoking += revoked
            if let published { announcement = .published(published) }
            start += Self.revokeAllChunk
        } while start < ids.count
        return revoking
    }

    /// The file event of a ``revokeAll(onPins:reason:latestDeadline:announce:)``: published by
    /// its first transition, then only sent to each holder's webhook.
    private enum Announcement {
        case none
        case publish(EventType, EventPayload)
        case published(Event)
    }

    /// How many leases one transition of ``revokeAll(onPins:reason:latestDeadline:announce:)`` revokes.
    static let revokeAllChunk = 256

    private func revokeChunk(
        _ ids: [String], reason: String, latestDeadline: Int64?, announce: Announcement
    ) -> (revoking: [LeaseRecord], published: Event?) {
        let result = try? transition { book, transition, now throws(CoreError) -> ([LeaseRecord], Event?) in
            let announced: Event? =
                switch announce {
                case .none: nil
                case .publish(let type, let payload): book.fileEvent(type, payload: payload, at: now, &transition)
                case .published(let event): event
                }
            var revoking: [LeaseRecord] = []
            for id in ids {
                guard let lease = book.leases[id], !lease.state.isEnded else { continue }
                switch lease.state {
                case .active:
                    let grace = min(Int64(lease.graceSeconds) * 1000, (latestDeadline ?? .max) - now)
                    revoking.append(
                        startRevoking(
                            lease, reason: reason, graceMilliseconds: max(0, grace), at: now, &book, &transition))
                case .revoking:
                    if let latestDeadline, latestDeadline < (lease.deadline ?? .max) {
                        revoking.append(shortenDeadline(lease, to: latestDeadline, at: now, &book, &transition))
                    } else {
                        revoking.append(lease)
                    }
                default:
                    break
                }
            }
            // Each holder's webhook also gets the file event, with its lease id added, queued
            // after every lease.revoking: the call to act goes out first.
            if let announced {
                for lease in revoking {
                    let forLease = Event(
                        sequence: announced.sequence, type: announced.type, timestamp: announced.timestamp,
                        payload: announced.payload.addressed(to: lease.id), holder: lease.holder)
                    book.notify(lease, of: forLease, at: now, &transition)
                }
            }
            if case .publish = announce { return (revoking, announced) }
            return (revoking, nil)
        }
        return result ?? ([], nil)
    }
}
