import LinuxFS
import PinJSON

/// A file the daemon tracks as locked. `handle` is the read-only descriptor holding the kernel
/// read lease; it is nil when the lock could not be re-established (`degradedReason` says why).
final class LockedFile: Sendable {
    let record: LockRecord
    let handle: OpenFile?
    let fsType: String
    let degradedReason: String?

    init(record: LockRecord, handle: OpenFile?, fsType: String, degradedReason: String? = nil) {
        self.record = record
        self.handle = handle
        self.fsType = fsType
        self.degradedReason = degradedReason
    }

    var path: RootedPath { record.path }

    /// Whether the immutable flag is set now (statx on the held descriptor).
    var immutableNow: Bool { (try? handle?.status().isImmutable) ?? false }

    /// Whether the kernel read lease is held now (`F_GETLEASE`; during a break it reads as unlocked).
    var readLeaseNow: Bool { (try? handle?.currentLease()) == .read }

    var trackedFile: TrackedFile {
        TrackedFile(
            path: path, device: record.device, inode: record.inode, state: degradedReason == nil ? "locked" : "degraded",
            immutable: immutableNow, readLease: readLeaseNow, flagSetByDaemon: record.flagSetByDaemon,
            lockedAt: record.lockedAt, reason: degradedReason)
    }

    var lockReport: LockReport {
        let immutable = immutableNow
        let lease = readLeaseNow
        return LockReport(
            path: path, immutable: immutable, readLease: lease, flagSetByDaemon: record.flagSetByDaemon,
            lockedAt: record.lockedAt, compatibility: CompatibilityReport(fsType: fsType, immutable: immutable, readLease: lease))
    }
}

/// The answer to lock-immutable.
public struct LockReport: Sendable, JSONRepresentable {
    public let path: RootedPath
    public let immutable: Bool
    public let readLease: Bool
    public let flagSetByDaemon: Bool
    public let lockedAt: String
    public let compatibility: CompatibilityReport

    public var json: JSON {
        .object([
            "path": .string(path.canonical),
            "immutable": .bool(immutable),
            "read_lease": .bool(readLease),
            "flag_set_by_daemon": .bool(flagSetByDaemon),
            "locked_at": .string(lockedAt),
            "compat": compatibility.json,
        ])
    }
}

/// The answer to unlock.
public struct UnlockReport: Sendable, JSONRepresentable {
    public let path: RootedPath
    public let immutable: Bool
    public let flagCleared: Bool
    public let note: String?

    public var json: JSON {
        var object: JSONObject = [
            "path": .string(path.canonical),
            "immutable": .bool(immutable),
            "read_lease": .bool(false),
            "flag_cleared": .bool(flagCleared),
        ]
        if let note { object["note"] = .string(note) }
        return .object(object)
    }
}

/// A file in `GET /v1/files`.
public struct TrackedFile: Sendable, JSONRepresentable {
    public let path: RootedPath
    public let device: UInt64
    public let inode: UInt64
    public let state: String
    public let immutable: Bool
    public let readLease: Bool
    public let flagSetByDaemon: Bool
    public let lockedAt: String
    public let reason: String?

    public var json: JSON {
        var object: JSONObject = [
            "path": .string(path.canonical),
            "root": .string(path.root),
            "relative_path": .string(path.relative),
            "device": .int(Int64(bitPattern: device)),
            "inode": .int(Int64(bitPattern: inode)),
            "state": .string(state),
            "immutable": .bool(immutable),
            "read_lease": .bool(readLease),
            "flag_set_by_daemon": .bool(flagSetByDaemon),
            "locked_at": .string(lockedAt),
        ]
        if let reason { object["reason"] = .string(reason) }
        return .object(object)
    }
}
