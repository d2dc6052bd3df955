import Dispatch
import Glibc
import Logging
import PinJSON
import Synchronization

/// Every lease, its state machine and its timers. Each transition is made in memory under one
/// lock, queued for the state database in the same order, and only acted on (events
/// published, webhooks sent, timers set, pins let go) once it is durable; the caller's answer
/// also waits for that. Concurrent transitions share one fsync (``GroupCommit``).
///
/// Timers: an active lease expires at `expires_at` (→ revoking, reason `expired`); a revoking
/// lease is forced at its deadline (→ `revoked`, or `expired` for an expiry). Both are checked
/// again under the lock when they fire, so a renewal or release that wins the race stands.
final class LeaseBook: Sendable {
    enum TimerKey: Hashable, Sendable {
        case expiry(String)
        case deadline(String)
    }

    /// What a finished transition must do once durable.
    private struct Transition: Sendable {
        var leases: [LeaseRecord] = []
        var events: [Event] = []
        var outbox: [OutboxEntry] = []
        var secrets: [String: String] = [:]
        var timers: [(TimerKey, Int64?)] = []
        var cancelledNotifications: [String] = []
        var detached: [(lease: String, pin: String)] = []
        var ended: [LeaseRecord] = []

        var isEmpty: Bool { leases.isEmpty && events.isEmpty && outbox.isEmpty }
    }

    private struct Book: Sendable {
        /// Written only through ``put(_:)`` and ``forget(_:)``, which keep the indexes below.
        private(set) var leases: [String: LeaseRecord] = [:]
        var nextSequence: UInt64 = 1
        /// Ended leases, oldest end first (from `endedHead` on), for forgetting the oldest.
        var endedOrder: [String] = []
        var endedHead = 0
        /// Every lease, and the leases of each pin and of each holder, in grant order (for lists).
        private(set) var all = LeaseIDIndex()
        private(set) var byPin: [String: LeaseIDIndex] = [:]
        private(set) var byHolder: [String: LeaseIDIndex] = [:]
        /// The live (not ended) leases of each pin, and how many there are in all.
        private(set) var liveByPin: [String: Set<String>] = [:]
        private(set) var liveCount = 0

        mutating func ended(_ id: String) {
            endedOrder.append(id)
        }

        /// Records `lease` (new, or a new state of a known one) and keeps the indexes.
        mutating func put(_ lease: LeaseRecord) {
            let old = leases.updateValue(lease, forKey: lease.id)
            if old == nil {
                all.insert(lease.id)
                byPin[lease.pinID, default: LeaseIDIndex()].insert(lease.id)
                byHolder[lease.holder, default: LeaseIDIndex()].insert(lease.id)
            }
            let wasLive = old.map { !$0.state.isEnded } ?? false
            switch (wasLive, !lease.state.isEnded) {
            case (false, true):
                liveByPin[lease.pinID, default: []].insert(lease.id)
                liveCount += 1
            case (true, false):
                unlive(lease)
            default:
                break
            }
        }

        /// Forgets leases (with their places in the indexes).
        mutating func forget(_ ids: [String]) {
            var perPin: [String: Int] = [:]
            var perHolder: [String: Int] = [:]
            for id in ids {
                guard let lease = leases.removeValue(forKey: id) else { continue }
                if !lease.state.isEnded { unlive(lease) }
                perPin[lease.pinID, default: 0] += 1
                perHolder[lease.holder, default: 0] += 1
            }
            let leases = leases
            let isPresent = { (id: String) in leases[id] != nil }
            all.forget(perPin.values.reduce(0, +), isPresent: isPresent)
            for (pin, count) in perPin {
                byPin[pin]?.forget(count, isPresent: isPresent)
                if byPin[pin]?.count == 0 { byPin[pin] = nil }
            }
            for (holder, count) in perHolder {
                byHolder[holder]?.forget(count, isPresent: isPresent)
                if byHolder[holder]?.count == 0 { byHolder[holder] = nil }
            }
        }

        private mutating func unlive(_ lease: LeaseRecord) {
            liveByPin[lease.pinID]?.remove(lease.id)
            if liveByPin[lease.pinID]?.isEmpty == true { liveByPin[lease.pinID] = nil }
            liveCount -= 1
        }

        /// Publishes an event about `lease` (in this transition) and, for the webhook kinds,
        /// queues it for the lease's webhook.
        mutating func event(_ type: EventType, _ lease: LeaseRecord, at now: Int64, _ transition: inout Transition) {
            var data: JSONObject = [
                "lease_id": .string(lease.id), "pin_id": .string(lease.pinID), "path": .string(lease.path.canonical),
                "holder": .string(lease.holder), "state": .string(lease.state.rawValue),
            ]
            if let reason = lease.reason { data["reason"] = .string(reason) }
            if let deadline = lease.deadline { data["deadline"] = .string(WallClock.format(milliseconds: deadline)) }
            if lease.state == .active { data["expires_at"] = .string(WallClock.format(milliseconds: lease.expiresAt)) }
            let event = fileEvent(type, data: data, at: now, &transition, holder: lease.holder)
            notify(lease, of: event, at: now, &transition)
        }

        /// Publishes an event (in this transition) that is not only about one lease.
        mutating func fileEvent(_ type: EventType, data: JSONObject, at now: Int64, _ transition: inout Transition, holder: String? = nil) -> Event {
            let event = Event(sequence: nextSequence, type: type, timestamp: WallClock.format(milliseconds: now), data: data, holder: holder)
            nextSequence += 1
            transition.events.append(event)
            return event
        }

        /// Queues `event` for `lease`'s webhook, if it has one and the event is of a webhook kind.
        /// A call to act (`lease.revoking`, `lease.expired`) is retried until the lease's
        /// deadline, after which it is moot; a final notice (`lease.revoked`, `lease.released`,
        /// `file.violation`) follows the webhook retry schedule (``OutboxEntry/followsRetrySchedule``).
        func notify(_ lease: LeaseRecord, of event: Event, at now: Int64, _ transition: inout Transition) {
            let type = event.type
            guard type.isWebhook, let url = lease.webhookURL, let secret = lease.webhookSecret else { return }
            var entry = OutboxEntry(
                id: WebhookMessage.makeID(), leaseID: lease.id, event: type, url: url, body: JSONCodec.encode(event.json),
                retryUntil: now, attemptsAfterDeadline: 0)
            if !entry.followsRetrySchedule { entry.retryUntil = lease.deadline ?? now }
            transition.outbox.append(entry)
            transition.secrets[lease.id] = secret
        }
    }

    /// Ended leases kept for `GET /v1/leases` before the oldest are forgotten.
    static let endedLeasesKept = 10_000

    let policy: LeasePolicy
    let allowList: WebhookAllowList
    private let book = Mutex(Book())
    /// Set by a drain: no new lease from then on.
    private let draining = Atomic<Bool>(false)
    private let store: any LeaseJournal
    private let pins: PinBook
    private let events: EventLog
    private let notifier: LeaseNotifier
    private let timer = DeadlineTimer<TimerKey>(name: "lease-timers")
    private let logger: Logger
    /// Tears down a pin made for leases once its last lease ended (runs on a background queue).
    private let tearDownPin: @Sendable (String) -> Void
    /// Told of every lease that ended (after it is durable).
    private let leaseEnded: @Sendable (LeaseRecord) -> Void

    init(
        store: any LeaseJournal, pins: PinBook, events: EventLog, notifier: LeaseNotifier, policy: LeasePolicy, allowList: WebhookAllowList,
        logger: Logger, tearDownPin: @escaping @Sendable (String) -> Void, leaseEnded: @escaping @Sendable (LeaseRecord) -> Void
    ) {
        self.store = store
        self.pins = pins
        self.events = events
        self.notifier = notifier
        self.policy = policy
        self.allowList = allowList
        self.logger = logger
        self.tearDownPin = tearDownPin
        self.leaseEnded = leaseEnded
        timer.start { [weak self] keys in self?.fire(keys) }
    }

    func stop() {
        timer.stop()
    }

    /// Refuses every grant from now on (503 `draining`).
    func refuseGrants() {
        draining.store(true, ordering: .sequentiallyConsistent)
    }

    /// Whether ``refuseGrants()`` was called.
    var isDraining: Bool { draining.load(ordering: .sequentiallyConsistent) }

    // MARK: queries

    func lease(id: String, caller: LeaseCaller) throws(CoreError) -> Lease {
        Lease(record: try visible(id, caller, in: book.withLock { $0.leases[id] }), revealSecret: false)
    }

    /// The leases that match `filter`, in grant order, one page at a time. A pin or holder
    /// filter reads only that pin's or holder's leases; the page starts with a binary search.
    func list(_ filter: LeaseFilter, page: PageRequest = .all, caller: LeaseCaller) -> LeaseList {
        var filter = filter
        if case .holder(let own) = caller {
            guard filter.holder == nil || filter.holder == own else { return LeaseList(leases: []) }
            filter.holder = own
        }
        let (records, more) = book.withLock { book -> ([LeaseRecord], Bool) in
            let index: LeaseIDIndex? =
                if let pinID = filter.pinID { book.byPin[pinID] } else if let holder = filter.holder { book.byHolder[holder] } else { book.all }
            guard let index else { return ([], false) }
            let (ids, more) = index.page(after: page.after, limit: page.limit, include: { id in
                guard let lease = book.leases[id] else { return false }
                return (filter.state == nil || lease.state == filter.state) && (filter.holder == nil || lease.holder == filter.holder)
                    && (filter.pinID == nil || lease.pinID == filter.pinID)
            })
            return (ids.compactMap { book.leases[$0] }, more)
        }
        return LeaseList(leases: records.map { Lease(record: $0, revealSecret: false) }, next: more ? records.last?.id : nil)
    }

    /// The leases not yet ended on any of `pinIDs` (`nil`: on any pin), in grant order.
    func liveLeases(onPins pinIDs: Set<String>?) -> [LeaseRecord] {
        book.withLock { book in
            let ids = pinIDs.map { pins in pins.flatMap { book.liveByPin[$0] ?? [] } } ?? book.liveByPin.values.flatMap { $0 }
            return ids.sorted().compactMap { book.leases[$0] }
        }
    }

    /// How many leases have not ended.
    var liveCount: Int { book.withLock { $0.liveCount } }

    func record(id: String, caller: LeaseCaller) throws(CoreError) -> LeaseRecord {
        try visible(id, caller, in: book.withLock { $0.leases[id] })
    }

    /// What the indexes hold that a scan of every lease disagrees with (empty when consistent;
    /// for tests).
    func indexDiscrepancies() -> [String] {
        book.withLock { book in
            var problems: [String] = []
            let records = book.leases.values.sorted { $0.id < $1.id }
            func present(_ index: LeaseIDIndex?) -> [String] { (index?.allIDs ?? []).filter { book.leases[$0] != nil } }
            if present(book.all) != records.map(\.id) { problems.append("all") }
            if book.all.count != records.count { problems.append("all.count") }
            for (pin, leases) in Dictionary(grouping: records, by: \.pinID) where present(book.byPin[pin]) != leases.map(\.id) {
                problems.append("pin \(pin)")
            }
            for (holder, leases) in Dictionary(grouping: records, by: \.holder) where present(book.byHolder[holder]) != leases.map(\.id) {
                problems.append("holder \(holder)")
            }
            let live = Dictionary(grouping: records.filter { !$0.state.isEnded }, by: \.pinID).mapValues { Set($0.map(\.id)) }
            if live != book.liveByPin { problems.append("live by pin") }
            if book.liveCount != live.values.reduce(0, { $0 + $1.count }) { problems.append("live count") }
            if Set(book.byPin.keys) != Set(records.map(\.pinID)) { problems.append("pins without leases kept") }
            if Set(book.byHolder.keys) != Set(records.map(\.holder)) { problems.append("holders without leases kept") }
            return problems
        }
    }

    // MARK: transitions

    /// Grants a lease on an active pin. The answer (with the webhook secret, shown only here)
    /// is returned once the grant is durable. `admissible` is checked under the book's lock,
    /// where a concurrent ``revokeAll(onPins:reason:latestDeadline:announce:)`` takes its list
    /// of leases: a file found violated before that list refuses the grant, after it the
    /// grant is on the list.
    func grant(
        pinID: String, _ request: LeaseGrantRequest, autoPin: Bool, admissible: () throws(CoreError) -> Void = {}
    ) throws(CoreError) -> Lease {
        let ttl = try policy.ttl(request.ttlSeconds)
        let grace = try policy.grace(request.graceSeconds)
        try Self.validateHolder(request.holder)
        if let url = request.webhookURL { try allowList.check(url) }
        let id = RandomID.makeOrdered(prefix: "lease_", milliseconds: WallClock.nowMilliseconds())
        let pin = try pins.attachLease(id, to: pinID)
        do throws(CoreError) {
            let record = try transition { book, transition, now throws(CoreError) in
                guard !draining.load(ordering: .sequentiallyConsistent) else {
                    throw CoreError(.draining, "the daemon is revoking every lease before it stops; grant again once it is back")
                }
                try admissible()
                let record = LeaseRecord(
                    id: id, pinID: pinID, path: pin.path, holder: request.holder, state: .active, ttlSeconds: ttl, graceSeconds: grace,
                    webhookURL: request.webhookURL, webhookSecret: request.webhookURL == nil ? nil : WebhookSignature.makeSecret(),
                    holderUID: request.holderUID, autoPin: autoPin, grantedAt: now, renewedAt: now, expiresAt: now + Int64(ttl) * 1000)
                book.put(record)
                transition.leases.append(record)
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

    /// Extends an active lease to now + TTL (its own, or `ttlSeconds`, which becomes its TTL).
    func renew(id: String, ttlSeconds: Int?, caller: LeaseCaller) throws(CoreError) -> Lease {
        let record = try transition { book, transition, now throws(CoreError) in
            var lease = try visible(id, caller, in: book.leases[id])
            guard lease.state == .active else {
                throw CoreError(
                    .leaseNotActive, "lease \(id) is \(lease.state.rawValue); only an active lease can be renewed",
                    extensions: ["lease_id": .string(id), "state": .string(lease.state.rawValue)])
            }
            let ttl = try policy.ttl(ttlSeconds ?? lease.ttlSeconds)
            lease.ttlSeconds = ttl
            lease.renewedAt = now
            lease.expiresAt = now + Int64(ttl) * 1000
            book.put(lease)
            transition.leases.append(lease)
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
                    lease, reason: reason ?? RevokeReason.requested, graceMilliseconds: Int64(graceSeconds ?? lease.graceSeconds) * 1000,
                    at: now, &book, &transition)
                return (revoking, true)
            case .revoking:
                guard let graceSeconds, now + Int64(graceSeconds) * 1000 < (lease.deadline ?? .max) else { return (lease, false) }
                return (shortenDeadline(lease, to: now + Int64(graceSeconds) * 1000, at: now, &book, &transition), false)
            case .released, .revoked, .expired:
                return (lease, false)
            }
        }
        return (Lease(record: record, revealSecret: false), started)
    }

    /// Revokes every live lease on `pinIDs` for `reason`, each with its own grace but no later
    /// than `latestDeadline`; `announce` (a file event) is published in the same transition.
    /// Returns the leases now revoking.
    ///
    /// The leases are revoked in transitions of ``revokeAllChunk`` leases each, so that the
    /// first holders are told while the rest are still being recorded.
    @discardableResult
    func revokeAll(onPins pinIDs: Set<String>, reason: String, latestDeadline: Int64?, announce: (EventType, JSONObject)? = nil) -> [LeaseRecord] {
        let ids = liveLeases(onPins: pinIDs).map(\.id)
        let started = ContinuousClock.now
        defer { if ids.count > 1 { logger.notice("revoked \(ids.count) lease(s) (\(reason)) in \(ContinuousClock.now - started)") } }
        var announcement: Announcement = announce.map { .publish($0, $1) } ?? .none
        var revoking: [LeaseRecord] = []
        var start = 0
        repeat {
            let chunk = Array(ids[start..<min(ids.count, start + Self.revokeAllChunk)])
            let (revoked, published) = revokeChunk(chunk, reason: reason, latestDeadline: latestDeadline, announce: announcement)
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
        case publish(EventType, JSONObject)
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
                case .publish(let type, let data): book.fileEvent(type, data: data, at: now, &transition)
                case .published(let event): event
                }
            var revoking: [LeaseRecord] = []
            for id in ids {
                guard let lease = book.leases[id], !lease.state.isEnded else { continue }
                switch lease.state {
                case .active:
                    let grace = min(Int64(lease.graceSeconds) * 1000, (latestDeadline ?? .max) - now)
                    revoking.append(startRevoking(lease, reason: reason, graceMilliseconds: max(0, grace), at: now, &book, &transition))
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
                    var data = announced.data
                    data["lease_id"] = .string(lease.id)
                    let forLease = Event(
                        sequence: announced.sequence, type: announced.type, timestamp: announced.timestamp, data: data, holder: lease.holder)
                    book.notify(lease, of: forLease, at: now, &transition)
                }
            }
            if case .publish = announce { return (revoking, announced) }
            return (revoking, nil)
        }
        return result ?? ([], nil)
    }

    // MARK: recovery

    /// Loads every lease recorded before a restart. Active leases keep the TTL they had left
    /// when the daemon stopped (`lastAlive`), revoking leases keep their deadline, a lease whose
    /// pin could not be re-created is revoked (reason `pin-lost`), and unfinished webhooks are
    /// sent again with their original ids.
    func recover(lastAlive: Int64?) throws(CoreError) {
        let records = try store.leases()
        let outbox = try store.outbox()
        let lastSequence = events.lastSequence
        let now = WallClock.nowMilliseconds()
        let downtime = max(0, now - (lastAlive ?? now))
        var adjusted: [LeaseRecord] = []
        var lost: [String] = []
        var timers: [(TimerKey, Int64)] = []
        book.withLock { book in
            book.nextSequence = lastSequence + 1
            for lease in records.filter(\.state.isEnded).sorted(by: { ($0.endedAt ?? 0) < ($1.endedAt ?? 0) }) { book.ended(lease.id) }
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
        logger.info("recovered \(records.count) lease(s) (\(timers.count) live, downtime \(downtime) ms, \(resend.count) webhook(s) to resume)")
    }

    /// Forgets the oldest ended leases beyond `kept` (``endedLeasesKept``) and the oldest events
    /// beyond the policy's `eventsKept`.
    /// The rows go in writes of at most ``pruneChunk`` leases, so no commit waits long for them.
    func prune(keepingEnded kept: Int = LeaseBook.endedLeasesKept) {
        let forgotten: [String] = book.withLock { book in
            let excess = book.endedOrder.count - book.endedHead - kept
            guard excess > 0 else { return [] }
            let oldest = Array(book.endedOrder[book.endedHead..<(book.endedHead + excess)])
            book.forget(oldest)
            book.endedHead += excess
            if book.endedHead > max(kept, 1024) {
                book.endedOrder.removeFirst(book.endedHead)
                book.endedHead = 0
            }
            return oldest
        }
        let last = events.lastSequence
        var eventsUpTo = last > policy.eventsKept ? last - policy.eventsKept : nil
        var start = 0
        repeat {
            let chunk = Array(forgotten[start..<min(forgotten.count, start + Self.pruneChunk)])
            guard !chunk.isEmpty || eventsUpTo != nil else { return }
            do throws(CoreError) {
                try store.prune(endedLeases: chunk, eventsUpTo: eventsUpTo)
            } catch {
                logger.error("could not forget \(chunk.count) ended lease(s): \(error.detail)")
            }
            eventsUpTo = nil
            start += Self.pruneChunk
        } while start < forgotten.count
    }

    /// How many ended leases one write of ``prune()`` forgets.
    static let pruneChunk = 256

    // MARK: internals

    /// Runs `change` under the lock, queues its writes in order, waits until they are durable,
    /// then (on the committing thread, in order) acts on them. A change that writes nothing
    /// (a repeated release or revoke) still waits for the writes queued before it, through a
    /// barrier of its own: its answer may describe them.
    ///
    /// A write that cannot be made durable (a full disk: `no-space`) fails the caller, and the
    /// leases it changed are put back as the state database has them (``restore(_:)``): memory
    /// never stays ahead of what is durable, the daemon keeps serving, and the next
    /// transition succeeds once there is space again.
    private func transition<T>(_ change: (inout Book, inout Transition, Int64) throws(CoreError) -> T) throws(CoreError) -> T {
        let (result, ticket, changed) = try book.withLock { book throws(CoreError) -> (T, (any CommitTicket)?, [String]) in
            var transition = Transition()
            let result = try change(&book, &transition, WallClock.nowMilliseconds())
            guard !transition.isEmpty || !transition.timers.isEmpty else { return (result, store.barrier(), []) }
            let done = transition
            let ticket = store.enqueue(
                leases: transition.leases, events: transition.events, outbox: transition.outbox,
                afterCommit: { [weak self] in self?.act(on: done) })
            return (result, ticket, transition.leases.map(\.id))
        }
        if let ticket {
            do throws(CoreError) {
                try store.wait(ticket)
            } catch {
                logger.error("a lease transition could not be made durable (\(error.detail)); its leases are put back as stored")
                restore(changed)
                throw error
            }
        }
        return result
    }

    /// Puts the leases `ids` back as the state database has them, after a write of theirs
    /// failed (its events, webhooks and timers never took effect: they act only once
    /// durable). Runs under the book's lock once every write queued so far has settled, so no
    /// transition builds on the undone change meanwhile, and what is read is final. A lease
    /// with no durable row was a grant that never happened: it is forgotten and let go of
    /// its pin. Timers already due fire again a second later (not in a loop on a full disk).
    private func restore(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        book.withLock { book in
            if let barrier = store.barrier() { try? store.wait(barrier) }
            let now = WallClock.nowMilliseconds()
            for id in Set(ids) {
                let durable: LeaseRecord?
                do throws(CoreError) {
                    durable = try store.lease(id: id)
                } catch {
                    logger.error("lease \(id): cannot read its durable record back (\(error.detail)); memory keeps the change")
                    continue
                }
                let inMemory = book.leases[id]
                if let inMemory, inMemory.state.isEnded, durable.map({ !$0.state.isEnded }) ?? true {
                    book.endedOrder.removeAll { $0 == id }  // not ended after all (after the head: indices stay valid)
                }
                guard let durable else {
                    book.forget([id])
                    if let inMemory { _ = pins.detachLease(id, from: inMemory.pinID) }
                    timer.cancel(.expiry(id))
                    timer.cancel(.deadline(id))
                    continue
                }
                book.put(durable)
                switch durable.state {
                case .active:
                    timer.set(.expiry(id), at: max(durable.expiresAt, now + 1000))
                    timer.cancel(.deadline(id))
                case .revoking:
                    timer.cancel(.expiry(id))
                    timer.set(.deadline(id), at: max(durable.deadline ?? now, now + 1000))
                case .released, .revoked, .expired:
                    timer.cancel(.expiry(id))
                    timer.cancel(.deadline(id))
                }
            }
        }
    }

    /// Acts on a durable transition, on whichever thread led its commit. It must never take
    /// the book's lock: ``restore(_:)`` waits for commits while holding it, and may lead them.
    private func act(on transition: Transition) {
        events.publish(transition.events)
        for (key, due) in transition.timers {
            if let due { timer.set(key, at: due) } else { timer.cancel(key) }
        }
        for id in transition.cancelledNotifications { notifier.cancel(leaseID: id) }
        notifier.send(transition.outbox, secrets: transition.secrets)
        for (lease, pin) in transition.detached where pins.detachLease(lease, from: pin) {
            DispatchQueue.global().async { [tearDownPin] in tearDownPin(pin) }
        }
        for lease in transition.ended { leaseEnded(lease) }
    }

    private func startRevoking(
        _ lease: LeaseRecord, reason: String, graceMilliseconds: Int64, at now: Int64, _ book: inout Book, _ transition: inout Transition
    ) -> LeaseRecord {
        var lease = lease
        lease.state = .revoking
        lease.reason = reason
        lease.deadline = now + graceMilliseconds
        book.put(lease)
        transition.leases.append(lease)
        transition.timers.append((.expiry(lease.id), nil))
        transition.timers.append((.deadline(lease.id), lease.deadline))
        book.event(reason == RevokeReason.expired ? .leaseExpired : .leaseRevoking, lease, at: now, &transition)
        logger.info("revoking \(lease.id) (\(reason)), deadline in \(graceMilliseconds) ms")
        return lease
    }

    private func shortenDeadline(_ lease: LeaseRecord, to deadline: Int64, at now: Int64, _ book: inout Book, _ transition: inout Transition) -> LeaseRecord {
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
    private func end(_ lease: LeaseRecord, _ transition: inout Transition) {
        transition.leases.append(lease)
        transition.timers.append((.expiry(lease.id), nil))
        transition.timers.append((.deadline(lease.id), nil))
        transition.cancelledNotifications.append(lease.id)
        transition.detached.append((lease.id, lease.pinID))
        transition.ended.append(lease)
    }

    /// Expiries and deadlines that came due (on the timer thread), in one transition.
    private func fire(_ keys: [TimerKey]) {
        do throws(CoreError) {
            try transition { book, transition, now in
                for key in keys {
                    switch key {
                    case .expiry(let id):
                        guard let lease = book.leases[id], lease.state == .active, lease.expiresAt <= now else { continue }
                        _ = startRevoking(
                            lease, reason: RevokeReason.expired, graceMilliseconds: Int64(lease.graceSeconds) * 1000, at: now, &book, &transition)
                    case .deadline(let id):
                        guard var lease = book.leases[id], lease.state == .revoking, let deadline = lease.deadline, deadline <= now else { continue }
                        lease.state = lease.reason == RevokeReason.expired ? .expired : .revoked
                        lease.endedAt = now
                        book.put(lease)
                        book.ended(id)
                        end(lease, &transition)
                        book.event(.leaseRevoked, lease, at: now, &transition)
                        logger.warning("forced \(id) at its deadline (\(lease.reason ?? "revoked")): the holder did not release it")
                    }
                }
            }
        } catch {
            logger.error("lease timers: \(error.detail)")  // the change itself throws nothing
        }
    }

    private func visible(_ id: String, _ caller: LeaseCaller, in record: LeaseRecord?) throws(CoreError) -> LeaseRecord {
        guard let record else { throw Self.notFound(id) }
        if case .holder(let holder) = caller, record.holder != holder { throw Self.notFound(id) }
        return record
    }

    private static func notFound(_ id: String) -> CoreError {
        CoreError(.leaseNotFound, "no lease has the id '\(id)'", extensions: ["lease_id": .string(id)])
    }

    /// Holder names: 1 to 128 characters of letters, digits and `._:@-`.
    static func validateHolder(_ holder: String) throws(CoreError) {
        let allowed = holder.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x3A || byte == 0x40 || byte == 0x2D
        }
        guard !holder.isEmpty, holder.utf8.count <= 128, allowed else {
            throw CoreError(
                .invalidHolder, "holder \(holder.debugDescription) must be 1 to 128 letters, digits or ._:@-",
                extensions: ["holder": .string(holder)])
        }
    }
}
