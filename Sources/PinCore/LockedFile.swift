import LinuxFS
import Synchronization

/// A file the daemon tracks as locked. `handle` is the read-only descriptor holding the kernel
/// read lease (with writers "none"); it is nil when the lock could not be re-established
/// (`degradedReason` says why). `writableHandle` is the descriptor the daemon opened for
/// writing before setting the flag (writers "daemon" only). `baseline` is what the audit
/// compares against; once a violation is found the file stays violated until unlocked.
final class LockedFile: Sendable {
    let record: LockRecord
    let handle: OpenFile?
    let writableHandle: OpenFile?
    let fsType: String
    let isDAX: Bool
    let probe: FilesystemProbe
    let mapSyncErrno: Int32
    let degradedReason: String?
    let baseline: AuditBaseline?
    private let violationState: Mutex<FileViolation?>
    /// Set (under ``FileLocker``'s lock) once an unlock of this lock generation began: from
    /// then on the audit's verdicts about it are stale, since the unlock itself clears the
    /// flag and drops the lease.
    private let retiredState = Atomic<Bool>(false)

    init(
        record: LockRecord, handle: OpenFile?, writableHandle: OpenFile? = nil, fsType: String,
        probe: FilesystemProbe = FilesystemProbe(unprobedReason: "the lock is degraded"), degradedReason: String? = nil,
        violation: FileViolation? = nil
    ) {
        self.record = record
        self.handle = handle
        self.writableHandle = writableHandle
        self.fsType = fsType
        self.probe = probe
        self.degradedReason = degradedReason
        let status = try? handle?.status()
        isDAX = status?.isDAX ?? false
        mapSyncErrno = handle.map(Self.mapSyncResult) ?? Errno.badFileDescriptor.rawValue
        baseline = handle.flatMap { AuditBaseline.read($0, fsType: fsType, writers: record.writers) }
        violationState = Mutex(violation)
    }

    /// The violation found on this file, if any.
    var violation: FileViolation? { violationState.withLock { $0 } }

    /// Records `violation` unless one is recorded already; returns whether this one was first.
    func markViolated(_ violation: FileViolation) -> Bool {
        violationState.withLock { current in
            guard current == nil else { return false }
            current = violation
            return true
        }
    }

    /// Whether an unlock of this lock generation is under way (or done).
    var isRetired: Bool { retiredState.load(ordering: .acquiring) }

    /// Marks this generation as being unlocked, or (`false`) as locked again after a failed unlock.
    func setRetired(_ retired: Bool) { retiredState.store(retired, ordering: .releasing) }

    var path: RootedPath { record.path }
    var fileID: FileID { FileID(device: record.device, inode: record.inode) }

    /// Whether a read-write descriptor can write the inode now that it is immutable.
    var writesThroughDaemonAllowed: Bool { !compatibilityFacts.preopenedWritesBlocked.blocked }

    var compatibility: CompatibilityReport { CompatibilityReport(compatibilityFacts) }

    private var compatibilityFacts: CompatibilityFacts {
        CompatibilityFacts(
            fsType: fsType, immutable: immutableNow, readLease: readLeaseNow, writers: record.writers, isDAX: isDAX,
            probe: probe, mapSyncErrno: mapSyncErrno)
    }

    /// Maps one page with `MAP_SHARED_VALIDATE|MAP_SYNC` and unmaps it again: 0 or the errno.
    private static func mapSyncResult(_ file: OpenFile) -> Int32 {
        do throws(LinuxError) {
            _ = try MemoryMapping(file: file, offset: 0, length: pageSize, writable: false, synchronous: true)
            return 0
        } catch {
            return error.errno
        }
    }

    /// Whether the immutable flag is set now (statx on the held descriptor).
    var immutableNow: Bool { (try? handle?.status().isImmutable) ?? false }

    /// Whether the kernel read lease is held now (`F_GETLEASE`; during a break it reads as unlocked).
    var readLeaseNow: Bool { (try? handle?.currentLease()) == .read }

    /// `degraded` (the lock could not be re-established), `violated` (changed behind the
    /// daemon's back) or `locked`: the file's `state` in `GET /v1/files`.
    var state: TrackedFileState { degradedReason != nil ? .degraded : violation != nil ? .violated : .locked }

    var trackedFile: TrackedFile {
        TrackedFile(
            path: path, device: record.device, inode: record.inode,
            state: state.rawValue,
            immutable: immutableNow, readLease: readLeaseNow, writers: record.writers,
            flagSetByDaemon: record.flagSetByDaemon,
            lockedAt: record.lockedAt, reason: degradedReason ?? violation?.detail, violation: violation,
            compatibility: compatibility,
            pinIDs: [])
    }

    var lockReport: LockReport {
        LockReport(
            path: path, immutable: immutableNow, readLease: readLeaseNow, writers: record.writers,
            flagSetByDaemon: record.flagSetByDaemon, lockedAt: record.lockedAt, compatibility: compatibility)
    }
}

/// The answer to lock-immutable.
public struct LockReport: Sendable {
    public let path: RootedPath
    public let immutable: Bool
    public let readLease: Bool
    public let writers: LockWriters
    public let flagSetByDaemon: Bool
    public let lockedAt: String
    public let compatibility: CompatibilityReport
}

/// The answer to unlock.
public struct UnlockReport: Sendable {
    public let path: RootedPath
    public let immutable: Bool
    public let flagCleared: Bool
    public let note: String?
}

/// A file in `GET /v1/files`.
public struct TrackedFile: Sendable {
    public let path: RootedPath
    public let device: UInt64
    public let inode: UInt64
    public let state: String
    public let immutable: Bool
    public let readLease: Bool
    public let writers: LockWriters
    public let flagSetByDaemon: Bool
    public let lockedAt: String
    public let reason: String?
    public let violation: FileViolation?
    public let compatibility: CompatibilityReport
    /// The pins on this file (active or failed).
    public var pinIDs: [String]
}
