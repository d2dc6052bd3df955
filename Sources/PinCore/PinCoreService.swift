import Glibc
import LinuxFS
import Logging
import PinJSON

/// The core of pinleased: every file operation of the API, with no HTTP in sight. All methods
/// may be called from any thread; they block while they do real I/O.
public final class PinCoreService: Sendable {
    private let roots: Roots
    private let store: StateStore
    private let locker: FileLocker
    private let operations: OperationRegistry
    private let claims = FileClaims()
    private let logger: Logger

    /// Opens the roots and the state database, then re-establishes every recorded lock.
    public init(configuration: CoreConfiguration, logger: Logger) throws(CoreError) {
        self.logger = logger
        roots = try Roots(configuration.roots)
        store = try StateStore(directory: configuration.stateDirectory)
        locker = FileLocker(store: store, logger: logger)
        operations = try OperationRegistry(store: store, logger: logger)
        try LeaseBreakMonitor.start(locker: locker, logger: logger)
        try locker.recover { [roots] path throws(CoreError) in try roots.open(path, flags: .readOnly) }
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
        try beginPrepare(request)(PrepareProgress())
    }

    /// Validates the request and opens the file now, then prepares it in the background.
    public func startPrepare(_ request: PrepareRequest) throws(CoreError) -> OperationSnapshot {
        let job = try beginPrepare(request)
        let path = try roots.resolve(request.path).canonical
        return try operations.start(kind: "prepare", path: path) { progress throws(CoreError) in try job(progress).json }
    }

    public func operation(id: String) throws(CoreError) -> OperationSnapshot { try operations.snapshot(id: id) }

    /// Cancels a running operation; a finished operation is returned unchanged.
    public func cancelOperation(id: String) throws(CoreError) -> OperationSnapshot { try operations.cancel(id: id) }

    /// Sets the immutable flag and takes the kernel read lease; requires a ready file and no writers.
    public func lock(path: String) throws(CoreError) -> LockReport {
        let rooted = try roots.resolve(path)
        let (file, status) = try roots.open(rooted, flags: .readOnly)
        if let locked = locker.lockedFile(device: status.device, inode: status.inode) {
            guard let reason = locked.degradedReason else { return locked.lockReport }
            throw CoreError(
                .fileLocked, "\(locked.path.canonical) is tracked as locked but degraded (\(reason)); unlock it first",
                extensions: ["path": .string(locked.path.canonical)])
        }
        let claim = try claims.claim(FileID(device: status.device, inode: status.inode), path: rooted)
        defer { withExtendedLifetime(claim) {} }
        return try locker.lock(file, status: status, path: rooted)
    }

    /// Releases the lease and clears the flag if the daemon set it.
    public func unlock(path: String) throws(CoreError) -> UnlockReport {
        let rooted = try roots.resolve(path)
        guard let locked = locker.lockedFile(rooted) else {
            // Not tracked: a path that is not a confined regular file gets the same problem as
            // every other call; a locked file is found by its record even if the path changed.
            _ = try roots.open(rooted, flags: .pathOnly)
            throw CoreError(.notLocked, "\(rooted.canonical) is not locked by the daemon", extensions: ["path": .string(rooted.canonical)])
        }
        let claim = try claims.claim(FileID(device: locked.record.device, inode: locked.record.inode), path: rooted)
        defer { withExtendedLifetime(claim) {} }
        return try locker.unlock(rooted) { [roots] path throws(CoreError) in try roots.open(path, flags: .readOnly) }
    }

    /// Every file the daemon tracks as locked, with live flag and lease state.
    public func trackedFiles() -> [TrackedFile] { locker.trackedFiles }

    /// Whether the daemon can serve: state loaded and every root still a usable directory.
    public func readiness() -> (ready: Bool, reasons: [String]) {
        let reasons = roots.specs.compactMap { spec -> String? in
            access(spec.path, R_OK | W_OK | X_OK) == 0 ? nil : "root '\(spec.name)' at \(spec.path) is not accessible"
        }
        return (reasons.isEmpty, reasons)
    }

    /// Cancels running operations. Locks stay: they are durable and re-taken on the next start.
    public func shutdown() { operations.cancelAll() }

    /// Opens and checks the file for prepare and returns the work to run. A file the request
    /// created is removed again if the prepare cannot start or fails.
    private func beginPrepare(_ request: PrepareRequest) throws(CoreError) -> @Sendable (PrepareProgress) throws(CoreError) -> LayoutReport {
        let rooted = try roots.resolve(request.path)
        var created = false
        if request.create {
            guard request.size != nil || (try? roots.open(rooted, flags: .pathOnly)) != nil else {
                throw CoreError(.sizeRequired, "creating \(rooted.canonical) needs a size", extensions: ["path": .string(rooted.canonical)])
            }
            created = try roots.createIfMissing(rooted)
        }
        do throws(CoreError) {
            return try checkedPrepare(request, path: rooted, created: created)
        } catch {
            if created { roots.remove(rooted) }
            throw error
        }
    }

    private func checkedPrepare(
        _ request: PrepareRequest, path rooted: RootedPath, created: Bool
    ) throws(CoreError) -> @Sendable (PrepareProgress) throws(CoreError) -> LayoutReport {
        let (readOnly, status) = try roots.open(rooted, flags: .readOnly)
        let pathExtension: JSONObject = ["path": .string(rooted.canonical)]
        if locker.lockedFile(device: status.device, inode: status.inode) != nil {
            throw CoreError(.fileLocked, "\(rooted.canonical) is locked; unlock it before preparing it", extensions: pathExtension)
        }
        if status.isImmutable || status.isAppendOnly {
            throw CoreError(
                .fileImmutable, "\(rooted.canonical) has the \(status.isImmutable ? "immutable" : "append-only") flag set by someone else",
                extensions: pathExtension)
        }
        let size = request.size ?? status.size
        guard size >= status.size else {
            throw CoreError(
                .wouldTruncate, "\(rooted.canonical) holds \(status.size) bytes; prepare never shrinks a file (asked for \(size))",
                extensions: ["path": .string(rooted.canonical), "size": .int(Int64(status.size))])
        }
        guard size > 0 else {
            throw CoreError(.sizeRequired, "\(rooted.canonical) is empty; give a size", extensions: pathExtension)
        }
        let claim = try claims.claim(FileID(device: status.device, inode: status.inode), path: rooted)
        // Zeroes written into a hole could race with another writer's data.
        try WriterCheck.requireNone(readOnly, status: status, path: rooted)
        let (file, reopened) = try roots.open(rooted, flags: .readWrite)
        guard reopened.device == status.device, reopened.inode == status.inode else {
            throw CoreError(.fileChanged, "\(rooted.canonical) was replaced while it was being checked", extensions: pathExtension)
        }
        return { [roots, logger] progress throws(CoreError) in
            defer { withExtendedLifetime(claim) {} }
            do throws(CoreError) {
                if size > status.size {
                    do throws(LinuxError) { try file.truncate(to: size) } catch { throw CoreError.from(error, path: rooted.canonical) }
                }
                let report = try Preparer.prepare(
                    file, path: rooted, mode: request.mode, progress: progress,
                    openDirect: { try? roots.open(rooted, flags: [.readWrite, .direct]).file })
                logger.info("prepared \(rooted.canonical) (\(request.mode.rawValue), \(progress.doneBytes) bytes written)")
                return report
            } catch {
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
