import LinuxFS
import Logging
import Synchronization

/// The userspace form of pNFS layout recall. When the kernel breaks a locked file's read
/// lease (someone cleared the flag and opened it for writing, or truncated it), the opener
/// waits while the daemon revokes every lease on the file; once all of them ended (released,
/// or forced at a deadline inside the kernel's `lease-break-time`), the daemon gives up its
/// kernel lease and the opener goes on.
final class LeaseRecall: Sendable {
    private struct Recall: Sendable {
        let file: LockedFile
        var waitingFor: Set<String>
    }

    private let recalls = Mutex<[FileID: Recall]>([:])
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Starts a recall of `file` waiting for `leaseIDs` to end; with none, lets go at once.
    func begin(_ file: LockedFile, waitingFor leaseIDs: Set<String>) {
        guard !leaseIDs.isEmpty else {
            letGo(file)
            return
        }
        recalls.withLock { recalls in
            var recall = recalls[file.fileID] ?? Recall(file: file, waitingFor: [])
            recall.waitingFor.formUnion(leaseIDs)
            recalls[file.fileID] = recall
        }
        logger.warning("recalling \(leaseIDs.count) lease(s) on \(file.path.canonical): a writer waits for them")
    }

    /// A lease ended: a recall waiting only for it completes.
    func leaseEnded(_ leaseID: String) {
        let done = recalls.withLock { recalls -> [LockedFile] in
            var done: [LockedFile] = []
            // In place: a copy of a recall would share its set, and the removal would then
            // copy the whole set (once per lease that ends while thousands are recalled).
            for id in Array(recalls.keys) where recalls[id]?.waitingFor.remove(leaseID) != nil {
                if let recall = recalls[id], recall.waitingFor.isEmpty {
                    recalls[id] = nil
                    done.append(recall.file)
                }
            }
            return done
        }
        for file in done { letGo(file) }
    }

    private func letGo(_ file: LockedFile) {
        do throws(LinuxError) {
            try file.handle?.setLease(.none)
            logger.warning("released the kernel lease on \(file.path.canonical): the waiting writer proceeds")
        } catch {
            logger.error("could not release the kernel lease on \(file.path.canonical): \(error)")
        }
    }
}
