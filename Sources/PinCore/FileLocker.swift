import LinuxFS
import Logging
import Synchronization

/// lock-immutable and unlock. Locking sets `FS_IMMUTABLE_FL` (remembering whether the daemon
/// set it), then takes a kernel read lease on a read-only descriptor the daemon keeps: the
/// lease can only be taken when no writable open or writable shared mapping exists, so it is
/// the proof that there are no writers. Every step is recorded durably before it is taken, so
/// a crash never leaves behind a flag the daemon set and no longer tracks.
final class FileLocker: Sendable {
    private let store: any FileRecordStore
    private let logger: Logger
    private let files = Mutex(LockedFileIndex())

    init(store: any FileRecordStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func lockedFile(_ path: RootedPath) -> LockedFile? { files.withLock { $0[path] } }

    func lockedFile(device: UInt64, inode: UInt64) -> LockedFile? {
        files.withLock { $0.file(FileID(device: device, inode: inode)) }
    }

    func lockedFile(descriptor: Int32) -> LockedFile? {
        files.withLock { $0.byPath.values.first { $0.handle?.fd == descriptor } }
    }

    /// Every file locked and not degraded (what the audit checks).
    var healthyFiles: [LockedFile] {
        files.withLock { $0.byPath.values.filter { $0.degradedReason == nil } }
    }

    /// What ``recordViolation(_:_:)`` made of an audit's verdict.
    enum ViolationOutcome {
        /// The file's first violation: recorded durably.
        case first
        /// The file was already violated.
        case repeated
        /// The verdict is about a lock generation that is gone or being unlocked (the unlock
        /// cleared the flag itself, or the path was unlocked and locked again since the audit
        /// read it): nothing was recorded, and nothing must be done about it.
        case stale
    }

    /// Marks `file` violated and records it durably, if `file` is still the lock generation
    /// tracked at its path and no unlock of it has begun. The check and the record are made
    /// under the lock that ``unlock(_:reopen:)`` takes before it touches the flag, so a
    /// verdict read before an unlock or a re-lock can never land on the next generation.
    func recordViolation(_ file: LockedFile, _ violation: FileViolation) -> ViolationOutcome {
        files.withLock { files -> ViolationOutcome in
            guard files[file.path] === file, !file.isRetired else { return .stale }
            guard files.markViolated(file, violation) else { return .repeated }
            var record = file.record
            record.violation = violation
            do throws(CoreError) {
                try store.saveLock(record)
            } catch {
                logger.error("could not record the violation of \(file.path.canonical): \(error.detail)")
            }
            logger.error("violation on locked \(file.path.canonical): \(violation.code): \(violation.detail)")
            return .first
        }
    }

    /// How many tracked files are in each state (every state, 0 when none): kept as files are
    /// tracked, violated and let go, so reading it visits none of them.
    var countsByState: [TrackedFileState: Int] { files.withLock { $0.countsByState } }

    var trackedFiles: [TrackedFile] {
        files.withLock { Array($0.byPath.values) }.sorted { $0.path.canonical < $1.path.canonical }.map(\.trackedFile)
    }

    /// Locks the regular file `file` (opened read-only at `path`). With writers "daemon" the
    /// file is first opened read-write by `openWritable` and that descriptor is kept; no read
    /// lease can be held then, so /proc must show no other writer once the flag is set.
    /// Undoes everything it did when any step fails.
    func lock(
        _ file: OpenFile, status: FileStatus, path: RootedPath, writers: LockWriters, probe: FilesystemProbe,
        requireOnlyName: (OpenFile) throws(CoreError) -> Void, openWritable: () throws(CoreError) -> OpenFile
    ) throws(CoreError) -> LockReport {
        let before = try LayoutInspector.inspectReporting(file, path: path)
        guard before.report.ready else { throw before.report.notReadyError(suggestion: "prepare it first") }
        var writable: OpenFile?
        if writers == .daemon {
            guard !status.isImmutable else {
                throw CoreError(
                    .fileImmutable,
                    "\(path.canonical) already has the immutable flag, set by someone else: "
                        + "a lock with writers \"daemon\" must open it for writing before the flag is set",
                    extensions: ["path": .text(path.canonical)])
            }
            writable = try openWritable()
        }
        let record = LockRecord(
            path: path, device: status.device, inode: status.inode, flagSetByDaemon: !status.isImmutable,
            phase: .locking, lockedAt: Timestamp.now(), writers: writers)
        try store.saveLock(record)
        do throws(CoreError) {
            if record.flagSetByDaemon { try setImmutable(file, true, path: path) }
            // An immutable inode can neither gain nor lose a name: one name, in the root, now
            // holds for as long as the lock does. Checked after the flag for a link made before it.
            try requireOnlyName(file)
            if writers == .none {
                try takeReadLease(file, status: status, path: path)
            } else {
                try requireNoOtherWriter(status: status, path: path)
            }
            let after = try LayoutInspector.inspectReporting(file, path: path).report
            guard after.ready else { throw after.notReadyError(suggestion: "prepare it first") }
            var locked = record
            locked.phase = .locked
            try store.saveLock(locked)
            let lockedFile = LockedFile(
                record: locked, handle: file, writableHandle: writable, fsType: before.filesystem.type, probe: probe)
            files.withLock { $0.set(lockedFile, at: path) }
            logger.info(
                "locked \(path.canonical) (writers: \(writers.rawValue), flag set by daemon: \(record.flagSetByDaemon))"
            )
            return lockedFile.lockReport
        } catch {
            try? file.setLease(.none)
            if record.flagSetByDaemon { try? setImmutable(file, false, path: path) }
            try? store.deleteLock(path)
            throw error
        }
    }

    /// Releases the lease and clears the immutable flag if the daemon set it. The flag is
    /// cleared through the descriptor the daemon holds, so it is the locked inode's flag even
    /// if the path now names another file.
    func unlock(_ path: RootedPath, reopen: (RootedPath) throws(CoreError) -> (file: OpenFile, status: FileStatus))
        throws(CoreError) -> UnlockReport
    {
        let current = files.withLock { files -> LockedFile? in
            files[path]?.setRetired(true)  // before the flag or the lease changes: the audit stands down
            return files[path]
        }
        guard let locked = current else {
            throw CoreError(
                .notLocked, "\(path.canonical) is not locked by the daemon", extensions: ["path": .text(path.canonical)]
            )
        }
        do throws(CoreError) {
            return try unlock(locked, reopen: reopen)
        } catch {
            if lockedFile(path) === locked { locked.setRetired(false) }  // still locked: audit it again
            throw error
        }
    }

    private func unlock(
        _ locked: LockedFile, reopen: (RootedPath) throws(CoreError) -> (file: OpenFile, status: FileStatus)
    ) throws(CoreError) -> UnlockReport {
        let path = locked.path
        var unlocking = locked.record
        unlocking.phase = .unlocking
        try store.saveLock(unlocking)
        var handle = locked.handle
        var note: String?
        if handle == nil, let reopened = try? reopen(path) {
            if reopened.status.device == locked.record.device && reopened.status.inode == locked.record.inode {
                handle = reopened.file
            } else {
                note = "the path now names another inode; the flag of the inode the daemon locked was not touched"
            }
        }
        // The flag first, the kernel lease after it: an unlock that fails to clear the flag
        // leaves the lock whole (lease held), so the audit it re-arms finds nothing amiss.
        var cleared = false
        if locked.record.flagSetByDaemon, let handle {
            do throws(CoreError) {
                try setImmutable(handle, false, path: path)
                cleared = true
            } catch {
                try? store.saveLock(locked.record)
                throw error
            }
        }
        try? handle?.setLease(.none)
        do throws(CoreError) {
            try store.deleteLock(path)
        } catch {
            // The lease is given up and the flag cleared: the file is unlocked. The durable
            // record says "unlocking", which the next start finishes; keeping the file listed
            // as locked now would have the audit report its cleared flag as a violation.
            logger.warning(
                "\(path.canonical) is unlocked; its record stays until the next start finishes it: \(error.detail)")
        }
        files.withLock { $0.set(nil, at: path) }
        let immutable = (try? handle?.status().isImmutable) ?? false
        logger.info("unlocked \(path.canonical) (flag cleared: \(cleared))")
        return UnlockReport(path: path, immutable: immutable, flagCleared: cleared, note: note)
    }

    /// Re-establishes every lock recorded in the state store, after a restart. A lock that was
    /// being taken when the daemon stopped is rolled back; one being released is finished; a
    /// lock that cannot be re-taken stays tracked as degraded with the reason.
    func recover(
        open: (RootedPath, OpenFlags) throws(CoreError) -> (file: OpenFile, status: FileStatus),
        probe: (RootedPath, FileStatus) -> FilesystemProbe
    ) throws(CoreError) {
        for record in try store.locks() {
            var opened: (file: OpenFile, status: FileStatus)?
            var problem: String?
            do throws(CoreError) {
                let candidate = try open(record.path, .readOnly)
                if candidate.status.device == record.device && candidate.status.inode == record.inode {
                    opened = candidate
                } else {
                    problem = "the path now names another inode (was \(record.device):\(record.inode))"
                }
            } catch {
                problem = error.detail
            }
            switch record.phase {
            case .locking, .unlocking:
                if record.flagSetByDaemon, let file = opened?.file { try? setImmutable(file, false, path: record.path) }
                do throws(CoreError) {
                    try store.deleteLock(record.path)
                } catch {
                    // A full state directory must not keep the daemon from starting: the record
                    // is finished the same way at the next start.
                    logger.warning(
                        """
                        \(record.path.canonical): the record of the finished \(record.phase.rawValue) stays: \
                        \(error.detail)
                        """
                    )
                }
                logger.warning(
                    "\(record.path.canonical): finished an interrupted \(record.phase.rawValue) by releasing the lock")
            case .locked:
                recoverLocked(record, opened: opened, problem: problem, open: open, probe: probe)
            }
        }
    }

    private func recoverLocked(
        _ record: LockRecord, opened: (file: OpenFile, status: FileStatus)?, problem: String?,
        open: (RootedPath, OpenFlags) throws(CoreError) -> (file: OpenFile, status: FileStatus),
        probe: (RootedPath, FileStatus) -> FilesystemProbe
    ) {
        guard let opened, problem == nil else {
            degrade(record, handle: nil, fsType: "unknown", reason: problem ?? "cannot open")
            return
        }
        let fsType = (try? opened.file.filesystem().type) ?? "unknown"
        if let hardLinked = HardLinkCheck.reason(links: opened.status.links) {
            degrade(record, handle: opened.file, fsType: fsType, reason: hardLinked.detail)
            return
        }
        guard opened.status.isImmutable else {
            degrade(
                record, handle: opened.file, fsType: fsType,
                reason: "the immutable flag was cleared while the daemon was not running")
            return
        }
        do throws(CoreError) {
            var writable: OpenFile?
            switch record.writers {
            case .none:
                try takeReadLease(opened.file, status: opened.status, path: record.path)
            case .daemon:
                writable = try reopenWritable(record, handle: opened.file, open: open)
                try requireNoOtherWriter(status: opened.status, path: record.path)
            }
            let lockedFile = LockedFile(
                record: record, handle: opened.file, writableHandle: writable, fsType: fsType,
                probe: probe(record.path, opened.status), violation: record.violation)
            files.withLock { $0.set(lockedFile, at: record.path) }
            logger.info("re-established the lock of \(record.path.canonical) (writers: \(record.writers.rawValue))")
        } catch {
            degrade(record, handle: opened.file, fsType: fsType, reason: error.detail)
        }
    }

    /// An immutable file cannot be opened for writing: the daemon clears the flag it set, opens
    /// the file read-write and sets the flag again. The /proc scan that follows catches any
    /// writer that opened the file in that window.
    private func reopenWritable(
        _ record: LockRecord, handle: OpenFile,
        open: (RootedPath, OpenFlags) throws(CoreError) -> (file: OpenFile, status: FileStatus)
    ) throws(CoreError) -> OpenFile {
        guard record.flagSetByDaemon else {
            throw CoreError(
                .fileImmutable, "the immutable flag was not set by the daemon, so it cannot reopen the file for writing"
            )
        }
        try setImmutable(handle, false, path: record.path)
        defer { try? setImmutable(handle, true, path: record.path) }
        let writable = try open(record.path, .readWrite)
        guard writable.status.device == record.device, writable.status.inode == record.inode else {
            throw CoreError(.fileChanged, "the path now names another inode")
        }
        return writable.file
    }

    /// With writers "daemon" no read lease can prove the absence of writers: /proc is scanned
    /// for any other process with the file open for writing or mapped writable.
    private func requireNoOtherWriter(status: FileStatus, path: RootedPath) throws(CoreError) {
        let pids = processesWithWriteAccess(device: status.device, inode: status.inode)
        if !pids.isEmpty { throw WriterCheck.writersPresent(path: path, status: status, pids: pids) }
    }

    private func degrade(_ record: LockRecord, handle: OpenFile?, fsType: String, reason: String) {
        files.withLock {
            $0.set(
                LockedFile(
                    record: record, handle: handle, fsType: fsType, degradedReason: reason, violation: record.violation),
                at: record.path)
        }
        logger.error("locked \(record.path.canonical) is degraded: \(reason)")
    }

    private func takeReadLease(_ file: OpenFile, status: FileStatus, path: RootedPath) throws(CoreError) {
        do throws(LinuxError) {
            try file.setLeaseSignal(LeaseBreakSignal.number)
            try file.setLease(.read)
        } catch  where error.code == .resourceTemporarilyUnavailable {
            throw WriterCheck.writersPresent(path: path, status: status)
        } catch {
            throw CoreError.from(error, path: path.canonical)
        }
    }

    private func setImmutable(_ file: OpenFile, _ on: Bool, path: RootedPath) throws(CoreError) {
        do throws(LinuxError) {
            var flags = try file.inodeFlags()
            if on { flags.insert(.immutable) } else { flags.remove(.immutable) }
            try file.setInodeFlags(flags)
        } catch  where error.code == .notPermitted {
            throw CoreError(
                .missingCapability, "changing the immutable flag of \(path.canonical) needs CAP_LINUX_IMMUTABLE",
                extensions: ["path": .text(path.canonical), "capability": "CAP_LINUX_IMMUTABLE"])
        } catch  where [.inappropriateIOCTLForDevice, .notSupported, .invalidArgument].contains(error.code) {
            throw CoreError(
                .unsupportedFilesystem, "the filesystem of \(path.canonical) does not support the immutable flag",
                extensions: ["path": .text(path.canonical)])
        } catch {
            throw CoreError.from(error, path: path.canonical)
        }
    }

}
