import LinuxFS

/// What a locked file looked like once it was locked, for the audit to compare against.
struct AuditBaseline: Sendable, Equatable {
    let size: UInt64
    /// The extent map (logical, physical, length); `nil` where the filesystem has no FIEMAP.
    let extents: [Extent]?
    /// Whether the physical map may legitimately move: btrfs copies on write, so writes
    /// through the daemon's descriptor (writers "daemon") relocate blocks.
    let mapMayMove: Bool

    /// Reads the baseline from the held descriptor (FIEMAP without sync: the lock just synced).
    static func read(_ handle: OpenFile, fsType: String, writers: LockWriters) -> AuditBaseline? {
        guard let status = try? handle.status() else { return nil }
        let extents = try? handle.extents(length: status.size, sync: false).map(Self.comparable)
        return AuditBaseline(size: status.size, extents: extents, mapMayMove: fsType == "btrfs" && writers == .daemon)
    }

    /// The fields of an extent that must not change (`last` and `merged` describe the report).
    static func comparable(_ extent: Extent) -> Extent {
        Extent(
            logical: extent.logical, physical: extent.physical, length: extent.length,
            flags: extent.flags.subtracting([.last, .merged]))
    }
}

/// One audit of one locked file: a handful of system calls on descriptors the daemon holds,
/// plus one lookup of the path (no scan of anything else).
enum FileAudit {
    /// The first way `file` no longer matches its lock, or `nil`.
    /// - Parameters:
    ///   - quickLookUp: the status of whatever the locked path names now, where one cheap call can
    ///     tell (``Roots/entryStatus(_:)``), or `nil`. When it is the locked inode, on the same
    ///     mount, a regular file, the path still names the file; anything else is decided by `lookUp`,
    ///     as is everything on a kernel that reports no mount id (0: a bind mount would not show).
    ///   - lookUp: the status of whatever the locked path names now, or why it names nothing.
    static func check(
        _ file: LockedFile, quickLookUp: () -> FileStatus? = { nil }, lookUp: () -> Result<FileStatus, CoreError>
    ) -> FileViolation? {
        guard let handle = file.handle, let baseline = file.baseline else { return nil }
        var path: String { file.path.canonical }  // only for a verdict's detail
        guard let status = try? handle.status() else { return nil }
        if !status.isImmutable {
            return FileViolation(
                code: "immutable-flag-cleared", detail: "the immutable flag of \(path) was cleared (chattr -i)")
        }
        if let named = quickLookUp(), named.device == file.record.device, named.inode == file.record.inode,
            status.mountID != 0, named.mountID == status.mountID, named.kind == .regular
        {
            return contentViolation(file, handle: handle, status: status, baseline: baseline)
        }
        switch lookUp() {
        case .success(let other) where other.device != file.record.device || other.inode != file.record.inode:
            return FileViolation(
                code: "inode-replaced",
                detail: "\(path) now names another file (inode \(other.inode), was \(file.record.inode))")
        case .success:
            break
        case .failure(let error) where error.code == .notFound:
            return FileViolation(
                code: "path-removed", detail: "\(path) no longer names the locked file: \(error.detail)")
        case .failure(let error):
            // A mount, a symlink or something else now stands at the path.
            return FileViolation(
                code: "inode-replaced", detail: "\(path) no longer leads to the locked file: \(error.detail)")
        }
        return contentViolation(file, handle: handle, status: status, baseline: baseline)
    }

    /// The checks of the locked inode itself, once its path was found to still name it.
    private static func contentViolation(
        _ file: LockedFile, handle: OpenFile, status: FileStatus, baseline: AuditBaseline
    ) -> FileViolation? {
        var path: String { file.path.canonical }
        if status.size != baseline.size {
            return FileViolation(
                code: "size-changed", detail: "\(path) is \(status.size) bytes, was \(baseline.size) when locked")
        }
        // A batch one larger than the map when locked: an unchanged map is read in one call,
        // without clearing room for 512 extents.
        if let before = baseline.extents,
            let extents = try? handle.extents(length: status.size, sync: false, batchSize: before.count + 2)
        {
            if let shared = extents.first(where: { $0.flags.contains(.shared) }) {
                return FileViolation(
                    code: "extents-shared",
                    detail:
                        "\(shared.length) bytes at offset \(shared.logical) of \(path) are now shared "
                        + "with another file (a reflink or dedupe from it)"
                )
            }
            if !baseline.mapMayMove && extents.map(AuditBaseline.comparable) != before {
                return FileViolation(
                    code: "extent-map-changed", detail: "the block map of \(path) changed since it was locked")
            }
        }
        if file.record.writers == .none, let lease = try? handle.currentLease(), lease != .read {
            return FileViolation(
                code: "read-lease-lost",
                detail: "the kernel read lease on \(path) is no longer held (a writer or truncate broke it)")
        }
        return nil
    }
}
