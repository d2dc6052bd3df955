import Dispatch
import LinuxFS
import Synchronization

/// Makes the kernel resources of a pin on a locked file: checks that the lock and layout still
/// hold, maps the range `MAP_SHARED` (`MAP_SYNC` on DAX), faults it in and mlocks it, and takes
/// the long-term pin when asked.
enum Pinner {
    static func pin(_ record: PinRecord, of locked: LockedFile) throws(CoreError) -> PinnedRange {
        let handle = try checkPreconditions(record, of: locked)
        // Locked means immutable, and an immutable inode can gain no link: a count of 1 holds
        // for as long as the lock does. A lock taken before hard links were refused may have more.
        let links: UInt32
        do throws(LinuxError) { links = try handle.status().links } catch {
            throw CoreError.from(error, path: record.path.canonical)
        }
        guard links == 1 else { throw HardLinkCheck.error(path: record.path, links: links) }
        let layout = try LayoutInspector.inspectReporting(handle, path: record.path, locked: true).report
        guard layout.ready else { throw layout.notReadyError(suggestion: "unlock, prepare and lock it again") }

        let writable = record.access == .write || (record.longTerm != .no && locked.writableHandle != nil)
        let file = writable ? locked.writableHandle! : handle
        let (mapping, mapSyncReason) = try map(file, writable: writable, record: record, dax: locked.isDAX)
        try faultInAndLock(mapping)
        guard record.longTerm != .no else {
            return PinnedRange(mapping: mapping, longTermPin: nil, longTermReason: nil, mapSyncReason: mapSyncReason)
        }
        do throws(CoreError) {
            let longTermPin = try takeLongTermPin(mapping, locked: locked, path: record.path.canonical)
            return PinnedRange(
                mapping: mapping, longTermPin: longTermPin, longTermReason: nil, mapSyncReason: mapSyncReason)
        } catch  where record.longTerm == .ifPossible {
            return PinnedRange(
                mapping: mapping, longTermPin: nil, longTermReason: error.detail, mapSyncReason: mapSyncReason)
        }
    }

    /// The checks that need no I/O: the lock is healthy, write access has the daemon's
    /// writable descriptor on a filesystem that lets it write, and a required long-term pin
    /// can have the writable mapping io_uring needs. Returns the read-only descriptor.
    @discardableResult
    static func checkPreconditions(_ record: PinRecord, of locked: LockedFile) throws(CoreError) -> OpenFile {
        let path = record.path.canonical
        let pathExtension: ErrorExtensions = ["path": .text(path)]
        if let reason = locked.degradedReason {
            throw CoreError(
                .lockDegraded, "the lock of \(path) is degraded (\(reason)); unlock and lock it again",
                extensions: pathExtension)
        }
        guard let handle = locked.handle else {
            throw CoreError(.lockDegraded, "the daemon holds no descriptor of \(path)", extensions: pathExtension)
        }
        if let violation = locked.violation {
            throw violatedError(violation, path: path)
        }
        if record.access == .write {
            guard locked.record.writers == .daemon, locked.writableHandle != nil else {
                throw CoreError(
                    .writeNeedsDaemonWriters,
                    "\(path) is locked with writers \"none\"; a write pin needs the daemon's writable descriptor: "
                        + "unlock it and lock it with {\"path\":\"\(path)\",\"writers\":\"daemon\"}",
                    extensions: pathExtension)
            }
            guard locked.writesThroughDaemonAllowed else {
                throw CoreError(
                    .writesRefusedByFilesystem,
                    "\(locked.fsType) refuses writes to an immutable inode "
                        + "even through a descriptor opened before the flag was set, "
                        + "so a write pin of \(path) could never be written; use xfs, btrfs or tmpfs for write pins",
                    extensions: ["path": .text(path), "fs_type": .text(locked.fsType)])
            }
        }
        if record.longTerm == .required && record.access == .read && locked.writableHandle == nil {
            throw needsWritableMapping(path: path, fsType: locked.fsType)
        }
        return handle
    }

    private static func map(
        _ file: OpenFile, writable isWritable: Bool, record: PinRecord, dax: Bool
    ) throws(CoreError) -> (MemoryMapping, String?) {
        let length = Int(record.length)
        do throws(LinuxError) {
            if dax {
                do throws(LinuxError) {
                    let mapping = try MemoryMapping(
                        file: file, offset: record.offset, length: length, writable: isWritable, synchronous: true)
                    return (mapping, nil)
                } catch {
                    let mapping = try MemoryMapping(
                        file: file, offset: record.offset, length: length, writable: isWritable)
                    return (
                        mapping,
                        "mmap(MAP_SHARED_VALIDATE|MAP_SYNC) of this DAX file failed with "
                            + "\(error.name): \(error.message)"
                    )
                }
            }
            let mapping = try MemoryMapping(file: file, offset: record.offset, length: length, writable: isWritable)
            return (mapping, "the file is not DAX: MAP_SYNC applies only to DAX files")
        } catch {
            throw CoreError.from(error, path: record.path.canonical)
        }
    }

    /// Faults in and mlocks the mapping in page-aligned parts (64 MiB at least, one per CPU, at
    /// most 4) on parallel threads: each part is a sequential read stream of its own, which kept
    /// the disk busier than one mlock of the whole range (bench/README.md, "Pin"). readahead(2)
    /// first does not help: the kernel caps it at the device's readahead window.
    static func faultInAndLock(_ mapping: MemoryMapping) throws(CoreError) {
        let page = pageSize
        let parts = max(1, min(CurrentProcess.onlineProcessors, 4, mapping.length / (64 << 20)))
        let partLength = (mapping.length / parts + page - 1) / page * page
        let failure = Mutex<LinuxError?>(nil)
        DispatchQueue.concurrentPerform(iterations: parts) { index in
            let start = index * partLength
            let end = min(mapping.length, start + partLength)
            guard start < end else { return }
            do throws(LinuxError) {
                try mapping.lock(start..<end)
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
        if let error = failure.withLock({ $0 }) { throw lockFailure(error, path: mapping.path, length: mapping.length) }
    }

    private static func lockFailure(_ error: LinuxError, path: String, length: Int) -> CoreError {
        guard [.noMemory, .resourceTemporarilyUnavailable, .notPermitted].contains(error.code) else {
            return CoreError.from(error, path: path)
        }
        let limit = MemoryLockLimit.current()
        var extensions: ErrorExtensions = [
            "path": .text(path), "requested_bytes": .integer(Int64(length)), "errno": .text(error.name),
        ]
        if let soft = limit.soft { extensions["memlock_limit_bytes"] = .integer(Int64(clamping: soft)) }
        return CoreError(
            .memoryLockFailed,
            "mlock of \(length) bytes of \(path) failed with \(error.name): "
                + (limit.soft.map { "RLIMIT_MEMLOCK is \($0) bytes and the daemon lacks CAP_IPC_LOCK" }
                    ?? "the kernel could not lock every page"),
            extensions: extensions)
    }

    static func violatedError(_ violation: FileViolation, path: String) -> CoreError {
        CoreError(
            .fileViolated,
            "\(path) was changed behind the daemon's back (\(violation.code): \(violation.detail)); "
                + "unlock, prepare and lock it again",
            extensions: ["path": .text(path), "violation": .violation(violation)])
    }

    private static func needsWritableMapping(path: String, fsType: String) -> CoreError {
        CoreError(
            .longTermRefused,
            "io_uring registration, the daemon's way to take a long-term pin, asks for write access (FOLL_WRITE), "
                + "so it needs a writable mapping: lock \(path) with {\"writers\":\"daemon\"} "
                + "(long-term pins then work on tmpfs and hugetlbfs)",
            extensions: ["path": .text(path), "fs_type": .text(fsType)])
    }

    private static func takeLongTermPin(_ mapping: MemoryMapping, locked: LockedFile, path: String) throws(CoreError)
        -> LongTermPin
    {
        var extensions: ErrorExtensions = ["path": .text(path), "fs_type": .text(locked.fsType)]
        guard mapping.isWritable else { throw needsWritableMapping(path: path, fsType: locked.fsType) }
        do throws(LinuxError) {
            return try LongTermPin(mapping: mapping)
        } catch {
            extensions["errno"] = .text(error.name)
            let detail =
                switch error.code {
                case .badAddress:
                    "the kernel refuses writable long-term pins (FOLL_WRITE|FOLL_LONGTERM) "
                        + "of shared page-cache mappings on \(locked.fsType) (EFAULT): "
                        + "the filesystem must be able to track dirty pages. Long-term pins work on "
                        + "tmpfs, hugetlbfs or device-DAX; for RDMA, on-demand paging (ODP) MRs need no long-term pin"
                case .notSupported:
                    "the kernel refuses long-term pins of fsdax mappings (EOPNOTSUPP); use device-DAX or RDMA ODP"
                case .noMemory:
                    "io_uring registration failed with ENOMEM: "
                        + "RLIMIT_MEMLOCK is too small and the daemon lacks CAP_IPC_LOCK"
                case .notPermitted:
                    "io_uring is disabled on this host (kernel.io_uring_disabled), so no long-term pin can be taken"
                default:
                    "io_uring registration failed with \(error.name): \(error.message)"
                }
            throw CoreError(.longTermRefused, "\(path): \(detail)", extensions: extensions)
        }
    }
}
