import LinuxFS
import Logging
import ServiceLifecycle
import Synchronization

/// The core of pinleased: every file operation of the API, with no HTTP in sight. All methods
/// may be called from any thread; they block while they do real I/O. A service: its background
/// work (webhooks, lease timers, audit, checkpoint, lease-break monitor) runs from ``run()``.
public final class PinCoreService: Service {
    let roots: Roots
    let store: any FileRecordStore
    let locker: FileLocker
    private let operations: OperationRegistry
    let pins: PinBook
    let leaseStore: any LeaseJournal
    let notifier: LeaseNotifier
    let leases: LeaseBook
    let recall: LeaseRecall
    let auditInterval: Duration
    /// Where the state store keeps its files (probed by ``readinessReport()``).
    let stateDirectory: String
    /// The state directory's write probe, cached briefly (``readinessReport()``).
    let stateProbe: StateDirectoryProbe
    /// The background services, made (not started) at the end of the initializer.
    let background = Mutex<Background?>(nil)
    /// Told each time a lease ended (durably), for ``drain(extra:deliveryTimeout:)``.
    let leasesEnded = ChangeSignal()
    /// Every lease and file event, for `GET /v1/events`.
    public let events: EventLog
    private let probes = FilesystemProbeCache()
    private let claims = FileClaims()
    let logger: Logger
    let metrics: DomainMetrics

    /// Opens the roots and the state database, raises RLIMIT_MEMLOCK as far as it may, then
    /// re-establishes every recorded lock, pin and lease, and queues the unfinished webhooks.
    /// Starts no thread: the background work runs from ``run()``. The state and the webhook
    /// transport come from `infrastructure` (``CoreInfrastructure``; the real one is built in
    /// `PinAssembly`).
    package init(configuration: CoreConfiguration, logger: Logger, infrastructure: CoreInfrastructure) throws(CoreError)
    {
        try configuration.leasePolicy.validate()
        guard configuration.auditIntervalMilliseconds >= 10 else {
            throw CoreError(
                .systemError,
                "the audit interval must be at least 10 ms, not \(configuration.auditIntervalMilliseconds)")
        }
        let allowList = try WebhookAllowList(prefixes: configuration.webhookAllow)
        self.logger = logger
        let metrics = DomainMetrics(factory: infrastructure.metrics)
        self.metrics = metrics
        roots = try Roots(configuration.roots)
        stateDirectory = configuration.stateDirectory
        stateProbe = StateDirectoryProbe(directory: configuration.stateDirectory)
        store = try infrastructure.openFileRecords(configuration.stateDirectory)
        locker = FileLocker(store: store, logger: logger)
        operations = try OperationRegistry(store: store, logger: logger)
        let memoryLockLimit = MemoryLockLimit.raise()
        let hasIPCLock = Capability.ipcLock.isEffective
        var budget = PinBudget.defaults(memoryLockLimit: memoryLockLimit, hasIPCLock: hasIPCLock)
        if let bytes = configuration.pinBudgetBytes { budget.maxBytes = bytes }
        if let count = configuration.maxPins { budget.maxPins = count }
        if !hasIPCLock, let soft = memoryLockLimit.soft, budget.maxBytes > soft {
            logger.warning(
                """
                the pin budget (\(budget.maxBytes) bytes) exceeds RLIMIT_MEMLOCK (\(soft) bytes) \
                and the daemon lacks CAP_IPC_LOCK: mlock will fail first
                """
            )
        }
        pins = PinBook(budget: budget, store: store, logger: logger)
        logger.info("pin budget: \(budget.maxBytes) bytes, \(budget.maxPins) pins")
        leaseStore = try infrastructure.openLeaseJournal(configuration.stateDirectory)
        events = EventLog(lastSequence: try leaseStore.lastEventSequence()) { [leaseStore] after, limit in
            leaseStore.events(after: after, limit: limit)
        }
        var webhooks = WebhookConfiguration(allowList: allowList)
        webhooks.requestTimeout = configuration.webhookTimeoutSeconds
        webhooks.maxTransfersPerOrigin = configuration.webhookMaxTransfersPerOrigin
        webhooks.retrySchedule = configuration.webhookRetrySchedule
        notifier = LeaseNotifier(
            configuration: webhooks, store: leaseStore, logger: logger,
            makeTransport: infrastructure.makeWebhookTransport, metrics: metrics)
        let recall = LeaseRecall(logger: logger)
        self.recall = recall
        auditInterval = .milliseconds(configuration.auditIntervalMilliseconds)
        leases = LeaseBook(
            store: leaseStore, pins: pins, events: events, notifier: notifier, policy: configuration.leasePolicy,
            allowList: allowList,
            logger: logger,
            tearDownPin: { [pins, logger] (pinID: String) in
                do throws(CoreError) { try pins.remove(id: pinID) } catch {
                    logger.debug("pin \(pinID) stays: \(error.detail)")
                }
            },
            leaseEnded: { [leasesEnded] lease in
                recall.leaseEnded(lease.id)
                leasesEnded.changed()
            },
            webhookBody: infrastructure.webhookBody, metrics: metrics)
        try LeaseBreakMonitor.install()
        try locker.recover(
            open: { [roots] path, flags throws(CoreError) in try roots.open(path, flags: flags) },
            probe: { [roots, probes] path, status in
                probes.probe(mountID: status.mountID, directory: roots.directory(of: path))
            })
        try recoverPins()
        try leases.recover(lastAlive: try leaseStore.lastAlive())
        for pinID in pins.unusedAutoPins() {
            logger.notice("pin \(pinID) was made for leases and no lease uses it any more: tearing it down")
            try? pins.remove(id: pinID)
        }
        background.withLock { $0 = makeBackground() }
    }

    /// The layout report of the file at `path`.
    public func inspect(path: String) throws(CoreError) -> LayoutReport {
        let rooted = try roots.resolve(path)
        let (file, status) = try roots.open(rooted, flags: .readOnly)
        let locked = locker.lockedFile(device: status.device, inode: status.inode) != nil
        return try LayoutInspector.inspectReporting(file, path: rooted, locked: locked).report
    }

    /// Prepares the file and returns its (ready) layout report; blocks until done.
    public func prepare(_ request: PrepareRequest) throws(CoreError) -> LayoutReport {
        try beginPrepare(request).run(PrepareProgress())
    }

    /// Validates the request and opens the file now, then prepares it in the background.
    public func startPrepare(_ request: PrepareRequest) throws(CoreError) -> OperationSnapshot {
        let job = try beginPrepare(request)
        do throws(CoreError) {
            let path = try roots.resolve(request.path).canonical
            return try operations.start(kind: "prepare", path: path) { progress throws(CoreError) in
                .prepared(try job.run(progress))
            }
        } catch {
            job.abandon()  // e.g. the operation could not be recorded (state-full): the job never runs
            throw error
        }
    }

    public func operation(id: String) throws(CoreError) -> OperationSnapshot { try operations.snapshot(id: id) }

    /// Cancels a running operation; a finished operation is returned unchanged.
    public func cancelOperation(id: String) throws(CoreError) -> OperationSnapshot { try operations.cancel(id: id) }

    /// Sets the immutable flag and takes the kernel read lease (writers "none"), or keeps a
    /// read-write descriptor opened before the flag (writers "daemon"); requires a ready file
    /// and no other writers. Locking a file already locked the same way returns its report.
    public func lock(path: String, writers: LockWriters = .none) throws(CoreError) -> LockReport {
        try metrics.timed(.lock) { () throws(CoreError) in try lockUntimed(path: path, writers: writers) }
    }

    private func lockUntimed(path: String, writers: LockWriters) throws(CoreError) -> LockReport {
        let rooted = try roots.resolve(path)
        let (file, opened) = try roots.open(rooted, flags: .readOnly)
        if let locked = locker.lockedFile(device: opened.device, inode: opened.inode) {
            let pathExtension: ErrorExtensions = ["path": .text(locked.path.canonical)]
            if let reason = locked.degradedReason {
                throw CoreError(
                    .fileLocked,
                    "\(locked.path.canonical) is tracked as locked but degraded (\(reason)); unlock it first",
                    extensions: pathExtension)
            }
            guard locked.record.writers == writers else {
                throw CoreError(
                    .fileLocked,
                    "\(locked.path.canonical) is locked with writers \"\(locked.record.writers.rawValue)\"; "
                        + "unlock it first to lock it with writers \"\(writers.rawValue)\"",
                    extensions: pathExtension)
            }
            return locked.lockReport
        }
        let status = try roots.requireOnlyName(file, path: rooted)
        let claim = try claims.claim(FileID(device: status.device, inode: status.inode), path: rooted)
        defer { withExtendedLifetime(claim) {} }
        let probe = probes.probe(mountID: status.mountID, directory: roots.directory(of: rooted))
        return try locker.lock(
            file, status: status, path: rooted, writers: writers, probe: probe,
            requireOnlyName: { [roots] (file: OpenFile) throws(CoreError) in
                _ = try roots.requireOnlyName(file, path: rooted)
            },
            openWritable: { [roots] () throws(CoreError) in
                let (writable, reopened) = try roots.open(rooted, flags: .readWrite)
                guard reopened.device == status.device, reopened.inode == status.inode else {
                    throw CoreError(
                        .fileChanged, "\(rooted.canonical) was replaced while it was being locked",
                        extensions: ["path": .text(rooted.canonical)])
                }
                return writable
            })
    }

    /// Releases the lease and clears the flag if the daemon set it.
    public func unlock(path: String) throws(CoreError) -> UnlockReport {
        try metrics.timed(.unlock) { () throws(CoreError) in try unlockUntimed(path: path) }
    }

    private func unlockUntimed(path: String) throws(CoreError) -> UnlockReport {
        let rooted = try roots.resolve(path)
        guard let locked = locker.lockedFile(rooted) else {
            // Not tracked: a path that is not a confined regular file gets the same problem as
            // every other call; a locked file is found by its record even if the path changed.
            _ = try roots.open(rooted, flags: .pathOnly)
            throw CoreError(
                .notLocked, "\(rooted.canonical) is not locked by the daemon",
                extensions: ["path": .text(rooted.canonical)])
        }
        let claim = try claims.claim(locked.fileID, path: rooted)
        defer { withExtendedLifetime(claim) {} }
        try pins.closeForUnlock(locked.fileID, path: rooted)
        defer { pins.reopenAfterUnlock(locked.fileID) }
        return try locker.unlock(rooted) { [roots] path throws(CoreError) in try roots.open(path, flags: .readOnly) }
    }

    /// Every file the daemon tracks as locked, with live flag and lease state, compatibility
    /// report and pins.
    public func trackedFiles() -> [TrackedFile] {
        trackedFiles(page: .all).files
    }

    /// The tracked files by path, one page at a time; `next` is the path to continue after.
    public func trackedFiles(page: PageRequest) -> (files: [TrackedFile], next: String?) {
        let (files, next) = page.slice(locker.trackedFiles, key: \.path.canonical)
        return (
            files.map { file in
                var file = file
                file.pinIDs = pins.pinIDs(of: FileID(device: file.device, inode: file.inode))
                return file
            }, next
        )
    }

    /// Pins a range of a locked file: maps it, faults it in, mlocks it and, when asked, takes a
    /// long-term pin. The pin is durable before this returns; the file must stay locked and
    /// ready, and the budget must allow it.
    public func pin(_ request: PinRequest) throws(CoreError) -> Pin {
        try pin(request, autoPin: false)
    }

    /// ``pin(_:)``; `autoPin` marks a pin made for a lease (torn down with its last lease).
    func pin(_ request: PinRequest, autoPin: Bool) throws(CoreError) -> Pin {
        try metrics.timed(.pin) { () throws(CoreError) in try pinUntimed(request, autoPin: autoPin) }
    }

    private func pinUntimed(_ request: PinRequest, autoPin: Bool) throws(CoreError) -> Pin {
        let rooted = try roots.resolve(request.path)
        let (_, status) = try roots.open(rooted, flags: .pathOnly)
        guard let locked = locker.lockedFile(device: status.device, inode: status.inode) else {
            throw CoreError(
                .notLocked,
                "\(rooted.canonical) is not locked by the daemon; lock it with POST /v1/files/lock-immutable first",
                extensions: ["path": .text(rooted.canonical)])
        }
        let range = try PinRange.validated(
            offset: request.offset, length: request.length, size: status.size, path: rooted)
        let record = PinRecord(
            id: RandomID.make(prefix: "pin_"), path: locked.path, file: locked.fileID, offset: range.offset,
            length: range.length, access: request.access, longTerm: request.longTerm, autoPin: autoPin,
            createdAt: Timestamp.now())
        try Pinner.checkPreconditions(record, of: locked)
        try pins.reserve(record)
        do throws(CoreError) {
            guard locker.lockedFile(device: status.device, inode: status.inode) === locked else {
                throw CoreError(
                    .notLocked, "\(rooted.canonical) was unlocked meanwhile",
                    extensions: ["path": .text(rooted.canonical)])
            }
            let pinned = try Pinner.pin(record, of: locked)
            try store.savePin(record)
            pins.activate(record.id, pinned)
            logger.info(
                """
                pinned \(record.id): \(rooted.canonical) \(range.offset)+\(range.length) \(request.access.rawValue), \
                long-term: \(pinned.longTermPin != nil)
                """
            )
            return try pins.pin(id: record.id)
        } catch {
            pins.cancel(record.id)
            throw error
        }
    }

    /// Every pin, with its residency measured now, and the budget in use.
    public func pinList(page: PageRequest = .all) -> PinList { pins.list(page: page) }

    /// One pin, with its residency measured now.
    public func pin(id: String) throws(CoreError) -> Pin { try pins.pin(id: id) }

    /// Tears a pin down (unregisters the long-term pin, munlocks and unmaps) and forgets it.
    public func unpin(id: String) throws(CoreError) {
        try metrics.timed(.unpin) { () throws(CoreError) in try pins.remove(id: id) }
    }

    /// Re-creates every recorded pin on its (re-established) lock, or records why it cannot.
    private func recoverPins() throws(CoreError) {
        for record in try store.pins() {
            guard let locked = locker.lockedFile(device: record.file.device, inode: record.file.inode) else {
                pins.fail(record, reason: "\(record.path.canonical) is no longer locked by the daemon")
                logger.error("pin \(record.id) failed: its file is no longer locked")
                continue
            }
            do throws(CoreError) {
                let pinned = try Pinner.pin(record, of: locked)
                try pins.reserve(record)
                pins.activate(record.id, pinned)
                logger.info("re-created pin \(record.id) on \(record.path.canonical)")
            } catch {
                pins.fail(record, reason: error.detail)
                logger.error("pin \(record.id) on \(record.path.canonical) could not be re-created: \(error.detail)")
            }
        }
    }

    /// Runs the background work until graceful shutdown or cancellation, as services of a group
    /// of its own: webhook delivery, the lease timers, the clock checkpoint, the audit of locked
    /// files and the lease-break monitor. On graceful shutdown they stop in the reverse order
    /// (running operations are cancelled first, webhooks stop last), each joined before the
    /// next; then the daemon's clock is recorded. Locks, pins and leases stay: they are durable
    /// and resumed on the next start, active leases with the TTL they have left then.
    public func run() async throws {
        guard let background = background.withLock({ $0 }) else { return }
        let services: [any Service] = [
            notifier, leases.timers, background.checkpoint, background.audit, background.leaseBreaks,
            ClosureService { [operations] in
                await shutdownRequested()
                operations.cancelAll()
            },
        ]
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger))
        do {
            try await group.run()
        } catch {
            recordClock()
            throw error
        }
        recordClock()
    }

    /// For a core whose ``run()`` was never awaited (tests): cancels running operations, marks
    /// the background parts stopped (in the order ``run()`` stops them) and records the clock.
    /// Locks, pins and leases stay: they are durable and resumed on the next start, active
    /// leases with the TTL they have left now.
    public func shutdown() {
        operations.cancelAll()
        if let background = background.withLock({ $0 }) {
            background.leaseBreaks.stop()
            background.audit.stop()
            background.checkpoint.stop()
        }
        leases.stop()
        notifier.stop()
        recordClock()
    }

    private func recordClock() {
        try? leaseStore.markAlive(at: WallClock.nowMilliseconds())
    }

    /// Opens and checks the file for prepare and returns the work to run, and what undoes the
    /// opening for work that will never run. A file the request created is removed again if the
    /// prepare cannot start, fails or is abandoned.
    private func beginPrepare(
        _ request: PrepareRequest
    ) throws(CoreError) -> (
        run: @Sendable (PrepareProgress) throws(CoreError) -> LayoutReport, abandon: @Sendable () -> Void
    ) {
        let rooted = try roots.resolve(request.path)
        var created = false
        if request.create {
            guard request.size != nil || (try? roots.open(rooted, flags: .pathOnly)) != nil else {
                throw CoreError(
                    .sizeRequired, "creating \(rooted.canonical) needs a size",
                    extensions: ["path": .text(rooted.canonical)])
            }
            created = try roots.createIfMissing(rooted)
        }
        do throws(CoreError) {
            let run = try checkedPrepare(request, path: rooted, created: created)
            let remove = created
            return (run, { [roots] in if remove { roots.remove(rooted) } })
        } catch {
            if created { roots.remove(rooted) }
            throw error
        }
    }

    private func checkedPrepare(
        _ request: PrepareRequest, path rooted: RootedPath, created: Bool
    ) throws(CoreError) -> @Sendable (PrepareProgress) throws(CoreError) -> LayoutReport {
        let (readOnly, _) = try roots.open(rooted, flags: .readOnly)
        // Before anything else: a hard link may name a file outside the root.
        let status = try roots.requireOnlyName(readOnly, path: rooted)
        let pathExtension: ErrorExtensions = ["path": .text(rooted.canonical)]
        if locker.lockedFile(device: status.device, inode: status.inode) != nil {
            throw CoreError(
                .fileLocked, "\(rooted.canonical) is locked; unlock it before preparing it", extensions: pathExtension)
        }
        if status.isImmutable || status.isAppendOnly {
            let flag = status.isImmutable ? "immutable" : "append-only"
            throw CoreError(
                .fileImmutable,
                "\(rooted.canonical) has the \(flag) flag set by someone else",
                extensions: pathExtension)
        }
        let size = request.size ?? status.size
        guard size >= status.size else {
            throw CoreError(
                .wouldTruncate,
                "\(rooted.canonical) holds \(status.size) bytes; prepare never shrinks a file (asked for \(size))",
                extensions: ["path": .text(rooted.canonical), "size": .integer(Int64(status.size))])
        }
        guard size > 0 else {
            throw CoreError(.sizeRequired, "\(rooted.canonical) is empty; give a size", extensions: pathExtension)
        }
        let claim = try claims.claim(FileID(device: status.device, inode: status.inode), path: rooted)
        // Zeroes written into a hole could race with another writer's data.
        try WriterCheck.requireNone(readOnly, status: status, path: rooted)
        let (file, _) = try roots.open(rooted, flags: .readWrite)
        // Checked again on the descriptor the work goes through: a link made since is caught.
        let reopened = try roots.requireOnlyName(file, path: rooted)
        guard reopened.device == status.device, reopened.inode == status.inode else {
            throw CoreError(
                .fileChanged, "\(rooted.canonical) was replaced while it was being checked", extensions: pathExtension)
        }
        return { [roots, logger, metrics] progress throws(CoreError) in
            defer { withExtendedLifetime(claim) {} }
            defer { metrics.recordPrepared(bytes: progress.doneBytes) }
            let started = ContinuousClock.now
            do throws(CoreError) {
                if size > status.size {
                    do throws(LinuxError) { try file.truncate(to: size) } catch {
                        throw CoreError.from(error, path: rooted.canonical)
                    }
                }
                let report = try Preparer.prepare(
                    file, path: rooted, mode: request.mode, progress: progress,
                    // The same inode again (not the name: it may name another file by now).
                    openDirect: { try? file.reopen(flags: [.readWrite, .direct]) })
                logger.info(
                    "prepared \(rooted.canonical) (\(request.mode.rawValue), \(progress.doneBytes) bytes written)")
                metrics.recordOperation(.prepare, ok: true, since: started)
                return report
            } catch {
                metrics.recordOperation(.prepare, ok: false, since: started)
                // Give back what the request added: the created file, or the size it grew by.
                if created {
                    roots.remove(rooted)
                } else if size > status.size {
                    try? file.truncate(to: status.size)
                }
                throw error
            }
        }
    }
}
