import Foundation
import LinuxFS
import Logging
import Synchronization

/// Leases, violations and the kernel lease-break recall: the part of the core that acts over
/// time.
extension PinCoreService {
    // MARK: leases

    /// Grants a lease on an existing pin, or on a new pin made for it (`auto_pin`, torn down
    /// with its last lease). Returns once the grant is durable, with the webhook secret (the
    /// only time it is shown).
    public func grantLease(_ request: LeaseGrantRequest) throws(CoreError) -> Lease {
        let grant = try leases.checkGrant(request)  // before pinning anything for a new pin
        switch request.target {
        case .pin(let id):
            return try leases.grant(pinID: id, grant, autoPin: false) { () throws(CoreError) in
                try requireUnviolated(pinID: id)
            }
        case .newPin(let pinRequest):
            let pin = try pin(pinRequest, autoPin: true)
            do throws(CoreError) {
                return try leases.grant(pinID: pin.id, grant, autoPin: true) { () throws(CoreError) in
                    try requireUnviolated(pinID: pin.id)
                }
            } catch {
                try? unpin(id: pin.id)
                throw error
            }
        }
    }

    public func lease(id: String, caller: LeaseCaller) throws(CoreError) -> Lease {
        try leases.lease(id: id, caller: caller)
    }

    /// The leases that match `filter`, oldest grant first, one page at a time.
    public func leaseList(_ filter: LeaseFilter, page: PageRequest = .all, caller: LeaseCaller) -> LeaseList {
        leases.list(filter, page: page, caller: caller)
    }

    /// Extends an active lease (409 `lease-not-active` otherwise).
    public func renewLease(id: String, ttlSeconds: Int?, caller: LeaseCaller) throws(CoreError) -> Lease {
        try leases.renew(id: id, ttlSeconds: ttlSeconds, caller: caller)
    }

    /// The holder lets go; idempotent on an ended lease.
    public func releaseLease(id: String, caller: LeaseCaller) throws(CoreError) -> Lease {
        try leases.release(id: id, caller: caller)
    }

    /// Starts a two-phase revocation (or shortens one in progress); idempotent on an ended lease.
    /// - Returns: the lease and whether this call started revoking it.
    public func revokeLease(id: String, reason: String?, graceSeconds: Int?) throws(CoreError) -> (
        lease: Lease, started: Bool
    ) {
        try leases.revoke(id: id, reason: reason, graceSeconds: graceSeconds)
    }

    /// An operator's (or the lease holder's) retry of webhook message `messageID` of a lease:
    /// attempted now, pending or finished, with the same `webhook-id`. Returns the message as it
    /// is now; `.leaseNotFound` / `.deliveryNotFound` when either is unknown (or not the caller's).
    package func retryDelivery(
        leaseID: String, messageID: String, caller: LeaseCaller
    ) throws(CoreError) -> OutboxEntry {
        let lease = try leases.record(id: leaseID, caller: caller)
        return try notifier.redeliver(messageID: messageID, leaseID: lease.id, secret: lease.webhookSecret)
    }

    /// The webhook attempts made for a lease, oldest first, one page at a time; `next` is the
    /// sort key to continue after. The log of a lease only grows (until the lease is forgotten),
    /// so an attempt's position in it is its key.
    package func deliveries(
        leaseID: String, caller: LeaseCaller, page: PageRequest = .all
    ) throws(CoreError) -> (leaseID: String, attempts: [DeliveryRecord], next: String?) {
        let lease = try leases.record(id: leaseID, caller: caller)
        let attempts = try notifier.deliveries(leaseID: lease.id)
        let (positions, next) = page.slice(Array(attempts.indices), key: Self.positionKey)
        return (lease.id, positions.map { attempts[$0] }, next)
    }

    /// A position as a key that sorts as the number does.
    private static func positionKey(_ position: Int) -> String {
        let digits = String(position)
        return String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    /// Revokes every live lease (reason `daemon-draining`, each with its own grace) and waits
    /// until all of them ended, at most until the last deadline plus `extra`; then waits for
    /// the webhooks still pending (the final `lease.revoked` / `lease.released` notices) to be
    /// delivered or given up, at most `deliveryTimeout` more. What is still pending then stays
    /// in the durable outbox for the next start. For a shutdown that lets every holder go first:
    /// the daemon's first shutdown phase, while the API and the core's background work still run.
    /// `/readyz` answers 503 `draining` from the moment this starts. Blocks; waits on the ends
    /// of leases and of deliveries, not on a clock.
    public func drain(extra: Duration = .seconds(10), deliveryTimeout: Duration = .seconds(30)) {
        leases.refuseGrants()
        let live = leases.liveLeases(onPins: nil)
        if !live.isEmpty {
            let revoking = leases.revokeAll(
                onPins: Set(live.map(\.pinID)), reason: "daemon-draining", latestDeadline: nil)
            let lastDeadline = revoking.compactMap(\.deadline).max() ?? WallClock.nowMilliseconds()
            let giveUp = lastDeadline + Self.milliseconds(extra)
            logger.notice(
                """
                draining: revoking \(revoking.count) lease(s), waiting until they end \
                (at most until \(WallClock.format(milliseconds: giveUp)))
                """
            )
            leasesEnded.wait(until: Self.date(wallMilliseconds: giveUp)) { leases.liveCount == 0 }
        }
        // A lease ends in memory before its transition is durable, and its final notice is
        // handed to the sender only then: wait for every queued write (and its actions) first.
        if let barrier = leaseStore.barrier() { try? leaseStore.wait(barrier) }
        let deliveriesGiveUp = WallClock.nowMilliseconds() + Self.milliseconds(deliveryTimeout)
        notifier.waitUntilDelivered(by: Self.date(wallMilliseconds: deliveriesGiveUp))
        let left = leases.liveCount
        logger.notice(
            """
            drained: \(left) lease(s) still live, \(notifier.pendingCount) webhook(s) unfinished \
            (kept for the next start)
            """
        )
    }

    private static func date(wallMilliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(wallMilliseconds) / 1000)
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    // MARK: violations

    /// Refuses a lease on a pin of a file found violated.
    private func requireUnviolated(pinID: String) throws(CoreError) {
        guard let pin = pins.record(of: pinID),
            let file = locker.lockedFile(device: pin.file.device, inode: pin.file.inode),
            let violation = file.violation
        else { return }
        throw Pinner.violatedError(violation, path: file.path.canonical)
    }

    /// Audits every healthy locked file once; a difference becomes a violation.
    func auditLockedFiles() {
        let started = ContinuousClock.now
        defer { metrics.recordAuditPass(ContinuousClock.now - started) }
        for file in locker.healthyFiles {
            if let violation = file.violation {
                reviseRevocation(of: file, violation)
                continue
            }
            let violation = FileAudit.check(
                file, quickLookUp: { roots.entryStatus(file.path) },
                lookUp: { () -> Result<FileStatus, CoreError> in
                    Result { () throws(CoreError) in try roots.open(file.path, flags: .pathOnly).status }
                })
            if let violation { handle(violation, on: file, latestDeadline: nil) }
        }
    }

    /// A violated file whose leases are not all revoking (a revocation that could not be
    /// recorded, on a full state disk) has them revoked again: no grant is admitted on a
    /// violated file, so an active lease there is one whose revocation was lost.
    private func reviseRevocation(of file: LockedFile, _ violation: FileViolation) {
        let pinIDs = Set(pins.pinIDs(of: file.fileID))
        guard !pinIDs.isEmpty, leases.liveLeases(onPins: pinIDs).contains(where: { $0.state == .active }) else {
            return
        }
        logger.warning("revoking again the leases on violated \(file.path.canonical) whose revocation was not recorded")
        leases.revokeAll(onPins: pinIDs, reason: violation.revokeReason, latestDeadline: nil)
    }

    /// Records a violation (the first one of a file is announced as `file.violation`) and
    /// revokes every lease on the file, no later than `latestDeadline`.
    /// A verdict about a lock generation that is gone or being unlocked is dropped.
    func handle(_ violation: FileViolation, on file: LockedFile, latestDeadline: Int64?) {
        let outcome = locker.recordViolation(file, violation)
        guard outcome != .stale else {
            logger.debug(
                """
                dropped a stale audit verdict on \(file.path.canonical) (\(violation.code)): \
                it was unlocked or locked again meanwhile
                """
            )
            return
        }
        let first = outcome == .first
        if first { metrics.recordViolation(code: violation.code) }
        let announcement = EventPayload.fileViolation(
            FileViolationEventData(path: file.path.canonical, violation: violation))
        leases.revokeAll(
            onPins: Set(pins.pinIDs(of: file.fileID)), reason: violation.revokeReason, latestDeadline: latestDeadline,
            announce: first ? (.fileViolation, announcement) : nil)
    }

    /// The kernel broke the read lease of a locked file: a writer (after `chattr -i`) or a
    /// truncate waits. Revoke every lease on it with a deadline inside the kernel's
    /// `lease-break-time`, and give the kernel lease up once they all ended.
    func leaseBroken(descriptor: Int32) {
        guard let file = locker.lockedFile(descriptor: descriptor) else {
            logger.warning("kernel lease break on descriptor \(descriptor), which no locked file holds")
            return
        }
        let window = Self.recallWindowMilliseconds()
        let deadline = WallClock.nowMilliseconds() + window
        logger.warning(
            """
            kernel lease break on locked \(file.path.canonical): a writer or truncate waits; \
            recalling its leases within \(window) ms
            """
        )
        handle(
            FileViolation(
                code: "lease-broken",
                detail:
                    "the kernel broke the read lease on \(file.path.canonical): after its immutable flag was cleared, "
                    + "a process opened it for writing or truncated it"
            ),
            on: file, latestDeadline: deadline)
        let live = Set(leases.liveLeases(onPins: Set(pins.pinIDs(of: file.fileID))).map(\.id))
        recall.begin(file, waitingFor: live)
        // A lease that ended between the list and the recall's start told nobody: tell it now.
        let stillLive = Set(leases.liveLeases(onPins: Set(pins.pinIDs(of: file.fileID))).map(\.id))
        for id in live.subtracting(stillLive) { recall.leaseEnded(id) }
    }

    /// How long the recall may take: inside `/proc/sys/fs/lease-break-time` (after which the
    /// kernel takes the lease away itself), with a margin for the last webhook.
    static func recallWindowMilliseconds() -> Int64 {
        let seconds = Int64(LeaseBreakSignal.breakTimeSeconds ?? 45)
        return seconds > 10 ? (seconds - 5) * 1000 : max(500, seconds * 500)
    }

    // MARK: background work

    /// The services of the core's background work besides webhooks and lease timers.
    struct Background: Sendable {
        let audit: PeriodicTask
        let checkpoint: PeriodicTask
        let leaseBreaks: LeaseBreakMonitor
    }

    /// Makes the background services (their threads start when they run).
    func makeBackground() -> Background {
        let audit = PeriodicTask(name: "audit", interval: auditInterval) { [weak self] in self?.auditLockedFiles() }
        let checkpoint = PeriodicTask(name: "checkpoint", interval: .seconds(1)) { [weak self] in
            guard let self else { return }
            do throws(CoreError) {
                try leaseStore.markAlive(at: WallClock.nowMilliseconds())
            } catch {
                logger.error("could not record the daemon's clock: \(error.detail)")
            }
            leases.prune()
            do throws(CoreError) { try leaseStore.checkpoint() } catch {
                logger.warning("checkpoint of the state database failed: \(error.detail)")
            }
            MemoryUpkeep.process.run()
        }
        let leaseBreaks = LeaseBreakMonitor { [weak self] descriptor in self?.leaseBroken(descriptor: descriptor) }
        return Background(audit: audit, checkpoint: checkpoint, leaseBreaks: leaseBreaks)
    }
}
