import LinuxFS

/// One protection and whether it holds for a file on this kernel and filesystem, with why.
/// `probed` says whether a real experiment on this filesystem (or this file) showed it, as
/// opposed to what the kernel sources say of this filesystem type.
public struct CompatibilityRow: Sendable, Equatable {
    public let holds: Bool
    public let reason: String
    public let probed: Bool
}

/// The facts a compatibility report is made from.
struct CompatibilityFacts: Sendable {
    var fsType: String
    var immutable: Bool
    var readLease: Bool
    var writers: LockWriters
    var isDAX: Bool
    var probe: FilesystemProbe
    /// 0 when `mmap(MAP_SHARED_VALIDATE|MAP_SYNC)` of the file succeeded, else its errno.
    var mapSyncErrno: Int32

    /// Whether a descriptor opened for writing before +i can no longer write: probed when the
    /// probe ran, else what the kernel facts say (ext4 and f2fs check the flag on every write).
    var preopenedWritesBlocked: (blocked: Bool, probed: Bool) {
        if let probed = probe.preopenedWritesBlocked { return (probed, true) }
        return (["ext4", "ext3", "ext2", "f2fs"].contains(fsType), false)
    }
}

/// What really holds for a locked file on its filesystem (see the kernel facts): the report
/// never claims a protection the kernel does not give.
public struct CompatibilityReport: Sendable, Equatable {
    public let immutableFlag: CompatibilityRow
    public let existingWritersBlocked: CompatibilityRow
    public let reflinkSourcePossible: CompatibilityRow
    public let leaseBreakRecall: CompatibilityRow
    public let longTermPinWrite: CompatibilityRow
    public let longTermPinRead: CompatibilityRow
    public let mapSync: CompatibilityRow
    public let dax: CompatibilityRow
    public let pinnedWrites: CompatibilityRow

    init(_ facts: CompatibilityFacts) {
        let fs = facts.fsType
        immutableFlag = CompatibilityRow(
            holds: facts.immutable,
            reason: facts.immutable
                ? "FS_IMMUTABLE_FL is set: new write opens, truncate, fallocate, unlink and rename fail with EPERM"
                : "the immutable flag is not set",
            probed: true)

        let preopened = facts.preopenedWritesBlocked
        let evidence =
            preopened.probed
            ? "on a scratch file of this filesystem, a descriptor opened for write before +i"
            : "per the kernel sources, on \(fs) a descriptor opened for write before +i"
        let covered =
            switch (facts.readLease, facts.writers) {
            case (true, _):
                "; the kernel read lease taken at lock proved that no such descriptor "
                    + "or writable shared mapping existed"
            case (false, .daemon):
                "; the daemon's own descriptor is meant to write, and /proc showed no other writer at lock time"
            case (false, .none): "; no read lease is held, so nothing proves there is no such descriptor"
            }
        existingWritersBlocked = CompatibilityRow(
            holds: preopened.blocked,
            reason: preopened.blocked
                ? "\(evidence) could no longer write (EPERM): \(fs) checks the flag on write, truncate and page_mkwrite"
                : "\(evidence) could still write: \(fs) does not check the flag for earlier opens" + covered,
            probed: preopened.probed)

        reflinkSourcePossible =
            switch fs {
            case "ext4", "ext3", "ext2", "tmpfs", "f2fs":
                CompatibilityRow(holds: false, reason: "\(fs) does not share extents between files", probed: false)
            default:
                CompatibilityRow(
                    holds: true,
                    reason:
                        "an immutable file can still be the source of FICLONE/FIDEDUPERANGE "
                        + "where \(fs) supports reflink; "
                        + "its extents then become shared and nothing notifies the daemon (inspect shows it)",
                    probed: false)
            }

        leaseBreakRecall = CompatibilityRow(
            holds: facts.readLease,
            reason: facts.readLease
                ? "a kernel read lease is held: if the flag is cleared, a write open or truncate breaks it, "
                    + "the daemon is signalled and the opener waits up to lease-break-time"
                : facts.writers == .daemon
                    ? "no kernel read lease can be held while the daemon keeps the file open for writing "
                        + "(writers: daemon)"
                    : "no kernel read lease is held on this file",
            probed: true)

        longTermPinWrite = Self.longTermWriteRow(facts)

        let fsdax = facts.isDAX || facts.probe.longTermWriteErrno.map(Errno.init(rawValue:)) == .notSupported
        longTermPinRead = CompatibilityRow(
            holds: !fsdax,
            reason: fsdax
                ? "fsdax mappings refuse every long-term pin (EOPNOTSUPP in check_vma_flags)"
                : "the kernel allows read-only long-term pins of page-cache file mappings "
                    + "(for example an RDMA MR without write access); not probed: io_uring registration, "
                    + "the only long-term pin the daemon can take, always asks for write access",
            probed: false)

        mapSync = CompatibilityRow(
            holds: facts.mapSyncErrno == 0,
            reason: facts.mapSyncErrno == 0
                ? "mmap(MAP_SHARED_VALIDATE|MAP_SYNC) of this file succeeded: "
                    + "writes through a mapping are durable once the fault returns"
                : "mmap(MAP_SHARED_VALIDATE|MAP_SYNC) of this file failed with "
                    + LinuxError(errno: facts.mapSyncErrno, call: "mmap").name
                    + (facts.isDAX ? "" : ": the file is not DAX"),
            probed: true)

        dax = CompatibilityRow(
            holds: facts.isDAX,
            reason: facts.isDAX
                ? "statx reports STATX_ATTR_DAX: mappings reach the persistent memory directly, without the page cache"
                : "statx does not report STATX_ATTR_DAX: the file is accessed through the page cache",
            probed: true)

        pinnedWrites =
            switch facts.writers {
            case .none:
                CompatibilityRow(
                    holds: false,
                    reason:
                        "locked with writers \"none\": nobody may write the file; "
                        + "lock it with {\"writers\":\"daemon\"} for write pins",
                    probed: false)
            case .daemon:
                preopened.blocked
                    ? CompatibilityRow(
                        holds: false,
                        reason:
                            "\(fs) refuses writes to an immutable inode "
                            + "even through the descriptor the daemon opened before +i",
                        probed: preopened.probed)
                    : CompatibilityRow(
                        holds: true,
                        reason: "\(fs) lets the descriptor the daemon opened before +i write: write pins can be taken",
                        probed: preopened.probed)
            }
    }

    private static func longTermWriteRow(_ facts: CompatibilityFacts) -> CompatibilityRow {
        guard let result = facts.probe.longTermWriteErrno else {
            let shmem = facts.fsType == "tmpfs" || facts.fsType == "hugetlbfs"
            return CompatibilityRow(
                holds: shmem,
                reason: (shmem
                    ? "the kernel allows writable long-term pins of \(facts.fsType) mappings"
                    : "the kernel refuses writable long-term pins of shared page-cache mappings (EFAULT)")
                    + "; not probed: \(facts.probe.unprobedReason ?? "the probe did not run")",
                probed: false)
        }
        let reason =
            switch result {
            case 0:
                "io_uring registration (FOLL_WRITE|FOLL_LONGTERM) of a shared writable mapping "
                    + "of a scratch file on this filesystem succeeded"
            case Errno.badAddress.rawValue:
                "the kernel refused a writable long-term pin of a shared mapping of a scratch file "
                    + "on this filesystem (EFAULT: page-cache files need dirty tracking); "
                    + "long-term pins work on tmpfs, hugetlbfs or device-DAX, or use RDMA ODP"
            case Errno.notSupported.rawValue:
                "the kernel refused a long-term pin of this filesystem's mappings (EOPNOTSUPP: fsdax)"
            default:
                "io_uring registration of a scratch mapping on this filesystem failed with "
                    + LinuxError(errno: result, call: "io_uring_register").name
            }
        return CompatibilityRow(holds: result == 0, reason: reason, probed: true)
    }
}
