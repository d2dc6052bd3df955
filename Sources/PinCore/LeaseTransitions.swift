import Logging
import Synchronization

/// The lease state machine: grant, renew, release, revoke (active → revoking → released,
/// revoked or expired). Each change is one ``transition(_:)``; ended leases do not move again.
extension LeaseBook {
    /// Grants a lease on an active pin, on the terms ``checkGrant(_:)`` resolved. The answer
    /// (with the webhook secret, shown only here) is returned once the grant is durable.
    /// `admissible` is checked under the book's lock, where a concurrent
    /// ``revokeAll(onPins:reason:latestDeadline:announce:)`` takes its list of leases: a file
    /// found violated before that list refuses the grant, after it the grant is on the list.
    func grant(
        pinID: String, _ grant: CheckedGrant, autoPin: Bool, admissible: () throws(CoreError) -> Void = {}
    ) throws(CoreError) -> Lease {
        let (request, ttl, grace) = (grant.request, grant.ttlSeconds, grant.graceSeconds)
        let id = RandomID.makeOrdered(prefix: "lease_", milliseconds: clock.wallMilliseconds())
        let pin = try pins.attachLease(id, to: pinID)
        do throws(CoreError) {
            let record = try transition { book, transition, now throws(CoreError) in
                guard !draining.load(ordering: .sequentiallyConsistent) else {
                    throw CoreError(
                        .draining, "the daemon is revoking every lease before it stops; grant again once it is back")
                }
                try admissible()
                let record = LeaseRecord(
                    id: id, pinID: pinID, path: pin.path, holder: request.holder, state: .active, ttlSeconds: ttl,
                    graceSeconds: grace,
                    webhookURL: request.webhookURL,
                    webhookSecret: request.webhookURL == nil ? nil : WebhookSignature.makeSecret(),
                    holderUID: request.holderUID, autoPin: autoPin, grantedAt: now, renewedAt: now,
                    expiresAt: now + Int64(ttl) * 1000)
                book.put(record)
                transition.leases.append(record)
                transition.tally.add(.granted)
                book.event(.leaseGranted, record, at: now, &transition)
                transition.timers.append((.expiry(id), record.expiresAt))
                return record
            }
            logger.info("granted \(id) on \(pinID) to \(request.holder) (ttl \(ttl) s, grace \(grace) s)")
            return Lease(record: record, revealSecret: true)
        } catch {
            _ = pins.detachLease(id, from: pinID)  // refused before anything was recorded
            throw error
        }
    }

    /// Checks `request` (``checkGrant(_:)``), then grants it on pin `pinID`.
    func grant(
        pinID: String, _ request: LeaseGrantRequest, autoPin: Bool, admissible: () throws(CoreError) -> Void = {}
    ) throws(CoreError) -> Lease {
        try grant(pinID: pinID, try checkGrant(request), autoPin: autoPin, admissible: admissible)
    }

    /// Extends an active lease to now + TTL (its own, or `ttlSeconds`, which becomes its TTL).
    func renew(id: String, ttlSeconds: Int?, caller: LeaseCaller) throws(CoreError) -> Lease {
        let record = try transition { book, transition, now throws(CoreError) in
            var lease = try visible(id, caller, in: book.leases[id])
            guard lease.state == .active else {
                throw CoreError(
                    .leaseNotActive, "lease \(id) is \(lease.state.rawValue); only an active lease can be renewed",
                    extensions: ["lease_id": .text(id), "state": .text(lease.state.rawValue)])
            }
            let ttl = try policy.ttl(ttlSeconds ?? lease.ttlSeconds)
            lease.ttlSeconds = ttl
            lease.renewedAt = now
            lease.expiresAt = now + Int64(ttl) * 1000
            book.put(lease)
            transition.leases.append(lease)
            transition.tally.add(.renewed)
            transition.timers.append((.expiry(id), lease.expiresAt))
            return lease
        }
        return Lease(record: record, revealSecret: false)
    }

    /// The holder lets go (of an active lease, or in answer to a revocation). A lease that has
    /// ended already is returned as it is.
    func release(id: String, caller: LeaseCaller) throws(CoreError) -> Lease {
        let record = try transition { book, transition, now throws(CoreError) in
            var lease = try visible(id, caller, in: book.leases[id])
            guard !lease.state.isEnded else { return lease }
            lease.state = .released
            lease.endedAt = now
            book.put(lease)
            book.ended(id)
            end(lease, &transition)
            book.event(.leaseReleased, lease, at: now, &transition)
            return lease
        }
        return Lease(record: record, revealSecret: false)
    }

    /// Starts revoking: the holder is told (`lease.revoking`) and has `graceSeconds` (default:
    /// the lease's own) to release. Revoking a lease that is revoking already only shortens its
    /// deadline when the new one is earlier; an ended lease is returned as it is.
    /// - Returns: the lease and whether this call started the revocation.
    func revoke(id: String, reason: String?, graceSeconds: Int?) throws(CoreError) -> (Lease, started: Bool) {
        if let graceSeconds { _ = try policy.grace(graceSeconds) }
        let (record, started) = try transition { book, transition, now throws(CoreError) in
            guard let lease = book.leases[id] else { throw Self.notFound(id) }
            switch lease.state {
            case .active:
                let revoking = startRevoking(
                    lease, reason: reason ?? RevokeReason.requested,
                    graceMilliseconds: Int64(graceSeconds ?? lease.graceSeconds) * 1000,
                    at: now, &book, &transition)
                return (revoking, true)
            case .revoking:
                guard let graceSeconds, now + Int64(graceSeconds) * 1000 < (lease.deadline ?? .max) else {
                    return (lease, false)
                }
                return (
                    shortenDeadline(lease, to: now + Int64(graceSeconds) * 1000, at: now, &book, &transition), false
                )
            case .released, .revoked, .expired:
                return (lease, false)
            }
        }
        return (Lease(record: record, revealSecret: false), started)
    }

    /// Moves `lease` to revoking (logged unless `logged` is false: the caller logs a batch).
    func startRevoking(
        _ lease: LeaseRecord, reason: String, graceMilliseconds: Int64, at now: Int64, _ book: inout Book,
        _ transition: inout Transition, logged: Bool = true
    ) -> LeaseRecord {
        var lease = lease
        lease.state = .revoking
        lease.reason = reason
        lease.deadline = now + graceMilliseconds
        book.put(lease)
        transition.leases.append(lease)
        transition.tally.add(reason == RevokeReason.expired ? .expiring : .revoking)
        transition.timers.append((.expiry(lease.id), nil))
        transition.timers.append((.deadline(lease.id), lease.deadline))
        book.event(reason == RevokeReason.expired ? .leaseExpired : .leaseRevoking, lease, at: now, &transition)
        if logged { logger.info("revoking \(lease.id) (\(reason)), deadline in \(graceMilliseconds) ms") }
        return lease
    }

    func shortenDeadline(
        _ lease: LeaseRecord, to deadline: Int64, at now: Int64, _ book: inout Book, _ transition: inout Transition
    ) -> LeaseRecord {
        var lease = lease
        lease.deadline = max(now, deadline)
        book.put(lease)
        transition.leases.append(lease)
        transition.timers.append((.deadline(lease.id), lease.deadline))
        transition.cancelledNotifications.append(lease.id)
        book.event(lease.reason == RevokeReason.expired ? .leaseExpired : .leaseRevoking, lease, at: now, &transition)
        return lease
    }

    /// The bookkeeping of a lease that ended: timers off, pending notifications stopped, pin let go.
    func end(_ lease: LeaseRecord, _ transition: inout Transition) {
        transition.leases.append(lease)
        switch lease.state {
        case .released: transition.tally.add(.released)
        case .expired: transition.tally.add(.expired)
        case .revoked: transition.tally.add(.revoked)
        case .active, .revoking: break  // not an end
        }
        transition.timers.append((.expiry(lease.id), nil))
        transition.timers.append((.deadline(lease.id), nil))
        transition.cancelledNotifications.append(lease.id)
        transition.detached.append((lease.id, lease.pinID))
        transition.ended.append(lease)
    }
}
