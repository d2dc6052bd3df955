import Glibc
import LinuxFS
import Logging
import PinJSON
import Synchronization

/// lock-immutable and unlock. Locking sets `FS_IMMUTABLE_FL` (remembering whether the daemon
/// set it), then takes a kernel read lease on a read-only descriptor the daemon keeps: the
/// lease can only be taken when no writable open or writable shared mapping exists, so it is
/// the proof that there are no writers. Every step is recorded durably before it is taken, so
/// a crash never leaves behind a flag the daemon set and no longer tracks.
final class FileLocker: Sendable {
    private let store: StateStore
    private let logger: Logger
    private let files = Mutex<[RootedPath: LockedFile]>([:])

    init(store: StateStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func lockedFile(_ path: RootedPath) -> LockedFile? { files.withLock { $0[path] } }

    func lockedFile(device: UInt64, inode: UInt64) -> LockedFile? {
        files.withLock { $0.values.first { $0.record.device == device && $0.record.inode == inode } }
    }

    func lockedFile(descriptor: Int32) -> LockedFile? {
        files.withLock { $0.values.first { $0.handle?.fd == descriptor } }
    }

    var trackedFiles: [TrackedFile] {
        files.withLock { Array($0.values) }.sorted { $0.path.canonical < $1.path.canonical }.map(\.trackedFile)
    }

    /// Locks the regular file `file` (opened read-only at `path`). Undoes everything it did
    /// when any step fails.
    func lock(_ file: OpenFile, status: FileStatus, path: RootedPath) throws(CoreError) -> LockReport {
        let before = try LayoutInspector.inspectReporting(file, path: path)
        guard before.report.ready else { throw before.report.notReadyError(suggestion: "prepare it first") }
        let record = LockRecord(
            path: path, device: status.device, inode: status.inode, flagSetByDaemon: !status.isImmutable,
            phase: .locking, lockedAt: Timestamp.now())
        try store.saveLock(record)
        do throws(CoreError) {
            if record.flagSetByDaemon { try setImmutable(file, true, path: path) }
            try takeReadLease(file, status: status, path: path)
            let after = try LayoutInspector.inspectReporting(file, path: path).report
            guard after.ready else { throw after.notReadyError(suggestion: "prepare it first") }
            var locked = record
            locked.phase = .locked
            try store.saveLock(locked)
            let lockedFile = LockedFile(record: locked, handle: file, fsType: before.filesystem.type)
            files.withLock { $0[path] = lockedFile }
            logger.info("locked \(path.canonical) (flag set by daemon: \(record.flagSetByDaemon))")
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
    func unlock(_ path: RootedPath, reopen: (RootedPath) throws(CoreError) -> (file: OpenFile, status: FileStatus)) throws(CoreError) -> UnlockReport {
        guard let locked = lockedFile(path) else {
            throw CoreError(.notLocked, "\(path.canonical) is not locked by the daemon", extensions: ["path": .string(path.canonical)])
        }
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
        try? handle?.setLease(.none)
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
        try store.deleteLock(path)
        files.withLock { _ = $0.removeValue(forKey: path) }
        let immutable = (try? handle?.status().isImmutable) ?? false
        logger.info("unlocked \(path.canonical) (flag cleared: \(cleared))")
        return UnlockReport(path: path, immutable: immutable, flagCleared: cleared, note: note)
    }

    /// Re-establishes every lock recorded in the state store, after a restart. A lock that was
    /// being taken when the daemon stopped is rolled back; one being released is finished; a
    /// lock that cannot be re-taken stays tracked as degraded with the reason.
    func recover(open: (RootedPath) throws(CoreError) -> (file: OpenFile, status: FileStatus)) throws(CoreError) {
        for record in try store.locks() {
            var opened: (file: OpenFile, status: FileStatus)?
            var problem: String?
            do throws(CoreError) {
                let candidate = try open(record.path)
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
                try store.deleteLock(record.path)
                logger.warning("\(record.path.canonical): finished an interrupted \(record.phase.rawValue) by releasing the lock")
            case .locked:
                recoverLocked(record, opened: opened, problem: problem)
            }
        }
    }

    private func recoverLocked(_ record: LockRecord, opened: (file: OpenFile, status: FileStatus)?, problem: String?) {
        guard let opened, problem == nil else {
            degrade(record, handle: nil, fsType: "unknown", reason: problem ?? "cannot open")
            return
        }
        let fsType = (try? opened.file.filesystem().type) ?? "unknown"
        guard opened.status.isImmutable else {
            degrade(record, handle: opened.file, fsType: fsType, reason: "the immutable flag was cleared while the daemon was not running")
            return
        }
        do throws(CoreError) {
            try takeReadLease(opened.file, status: opened.status, path: record.path)
            files.withLock { $0[record.path] = LockedFile(record: record, handle: opened.file, fsType: fsType) }
            logger.info("re-took the read lease of locked \(record.path.canonical)")
        } catch {
            degrade(record, handle: opened.file, fsType: fsType, reason: error.detail)
        }
    }

    private func degrade(_ record: LockRecord, handle: OpenFile?, fsType: String, reason: String) {
        files.withLock { $0[record.path] = LockedFile(record: record, handle: handle, fsType: fsType, degradedReason: reason) }
        logger.error("locked \(record.path.canonical) is degraded: \(reason)")
    }

    private func takeReadLease(_ file: OpenFile, status: FileStatus, path: RootedPath) throws(CoreError) {
        do throws(LinuxError) {
            try file.setLeaseSignal(LeaseBreakSignal.number)
            try file.setLease(.read)
        } catch where error.errno == EAGAIN {
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
        } catch where error.errno == EPERM {
            throw CoreError(
                .missingCapability, "changing the immutable flag of \(path.canonical) needs CAP_LINUX_IMMUTABLE",
                extensions: ["path": .string(path.canonical), "capability": "CAP_LINUX_IMMUTABLE"])
        } catch where error.errno == ENOTTY || error.errno == EOPNOTSUPP || error.errno == EINVAL {
            throw CoreError(
                .unsupportedFilesystem, "the filesystem of \(path.canonical) does not support the immutable flag",
                extensions: ["path": .string(path.canonical)])
        } catch {
            throw CoreError.from(error, path: path.canonical)
        }
    }

}
