import PinJSON

/// One protection and whether it holds for a file on this kernel and filesystem, with why.
public struct CompatibilityRow: Sendable, Equatable {
    public let holds: Bool
    public let reason: String
}

/// What really holds for a locked file on its filesystem (see the kernel facts): the report
/// never claims a protection the kernel does not give.
public struct CompatibilityReport: Sendable, Equatable, JSONRepresentable {
    public let immutableFlag: CompatibilityRow
    public let existingWritersBlocked: CompatibilityRow
    public let reflinkSourcePossible: CompatibilityRow
    public let leaseBreakRecall: CompatibilityRow

    init(fsType: String, immutable: Bool, readLease: Bool) {
        immutableFlag = CompatibilityRow(
            holds: immutable,
            reason: immutable
                ? "FS_IMMUTABLE_FL is set: new write opens, truncate, fallocate, unlink and rename fail with EPERM"
                : "the immutable flag is not set")
        existingWritersBlocked =
            switch fsType {
            case "ext4", "ext3", "f2fs":
                CompatibilityRow(
                    holds: true,
                    reason: "\(fsType) checks the immutable flag on write, truncate and page_mkwrite of descriptors opened before it was set")
            default:
                CompatibilityRow(
                    holds: false,
                    reason: "\(fsType) lets a descriptor opened for write before the flag still write and truncate; "
                        + "the kernel read lease taken at lock proved that no such descriptor or writable shared mapping existed then")
            }
        reflinkSourcePossible =
            switch fsType {
            case "ext4", "ext3", "ext2", "tmpfs", "f2fs":
                CompatibilityRow(holds: false, reason: "\(fsType) does not share extents between files")
            default:
                CompatibilityRow(
                    holds: true,
                    reason: "an immutable file can still be the source of FICLONE/FIDEDUPERANGE where \(fsType) supports reflink; "
                        + "its extents then become shared and nothing notifies the daemon (inspect shows it)")
            }
        leaseBreakRecall = CompatibilityRow(
            holds: readLease,
            reason: readLease
                ? "a kernel read lease is held: if the flag is cleared, a write open or truncate breaks it, the daemon is "
                    + "signalled and the opener waits up to lease-break-time"
                : "no kernel read lease is held on this file")
    }

    public var json: JSON {
        func row(_ row: CompatibilityRow) -> JSON { .object(["holds": .bool(row.holds), "reason": .string(row.reason)]) }
        return .object([
            "immutable_flag": row(immutableFlag),
            "existing_writers_blocked": row(existingWritersBlocked),
            "reflink_source_possible": row(reflinkSourcePossible),
            "lease_break_recall": row(leaseBreakRecall),
        ])
    }
}
