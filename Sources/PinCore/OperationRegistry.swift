import Dispatch
import Logging
import Synchronization

/// Asynchronous operations: each runs on its own worker, its progress is live, every state
/// change is recorded in the state store before it is visible, and an operation that was
/// running when the daemon stopped is recorded as failed on the next start.
final class OperationRegistry: Sendable {
    private struct Running: Sendable {
        var record: OperationRecord
        let progress: PrepareProgress
    }

    private let store: any FileRecordStore
    private let logger: Logger
    private let running = Mutex<[String: Running]>([:])
    /// Finished operations whose end could not be recorded (state full): answered from here,
    /// and recorded again on the next look, so that they never read as running.
    private let unrecorded = Mutex<[String: OperationRecord]>([:])
    private static let retained = 1000

    init(store: any FileRecordStore, logger: Logger) throws(CoreError) {
        self.store = store
        self.logger = logger
        for var record in try store.operations() where record.state == .running {
            record.state = .failed
            record.finishedAt = Timestamp.now()
            record.error = CoreError(.cancelled, "the daemon stopped while this operation was running")
            try store.saveOperation(record)
            logger.warning("operation \(record.id) on \(record.path) was interrupted by a restart; marked failed")
        }
        try store.pruneOperations(keeping: Self.retained)
    }

    /// Records a new running operation and starts `work` on a worker thread.
    func start(
        kind: String, path: String, work: @escaping @Sendable (PrepareProgress) throws(CoreError) -> OperationResult
    ) throws(CoreError) -> OperationSnapshot {
        let record = OperationRecord(
            id: RandomID.make(prefix: "op_"), kind: kind, path: path, state: .running, doneBytes: 0, totalBytes: 0,
            createdAt: Timestamp.now())
        try store.saveOperation(record)
        let progress = PrepareProgress()
        running.withLock { $0[record.id] = Running(record: record, progress: progress) }
        DispatchQueue.global().async { [self] in
            var finished = record
            do throws(CoreError) {
                finished.result = try work(progress)
                finished.state = .succeeded
            } catch {
                finished.state = error.code == .cancelled ? .cancelled : .failed
                finished.error = error
            }
            finished.doneBytes = progress.doneBytes
            finished.totalBytes = progress.totalBytes
            finished.finishedAt = Timestamp.now()
            do throws(CoreError) {
                try store.saveOperation(finished)
            } catch {
                logger.error("cannot record the end of operation \(record.id): \(error.detail)")
                unrecorded.withLock { $0[record.id] = finished }
            }
            running.withLock { _ = $0.removeValue(forKey: record.id) }
            logger.info("operation \(record.id) \(kind) \(path) \(finished.state.rawValue)")
        }
        return OperationSnapshot(record, progress: progress)
    }

    func snapshot(id: String) throws(CoreError) -> OperationSnapshot {
        if let live = running.withLock({ $0[id] }) { return OperationSnapshot(live.record, progress: live.progress) }
        if let finished = unrecorded.withLock({ $0[id] }) {
            if (try? store.saveOperation(finished)) != nil { unrecorded.withLock { _ = $0.removeValue(forKey: id) } }
            return OperationSnapshot(finished, progress: nil)
        }
        guard let record = try store.operation(id: id) else {
            throw CoreError(.operationNotFound, "no operation has id '\(id)'", extensions: ["id": .text(id)])
        }
        return OperationSnapshot(record, progress: nil)
    }

    /// Asks a running operation to stop; a finished one is returned as it is.
    func cancel(id: String) throws(CoreError) -> OperationSnapshot {
        running.withLock { $0[id] }?.progress.cancel()
        return try snapshot(id: id)
    }

    /// Cancels every running operation (at shutdown).
    func cancelAll() {
        for operation in running.withLock({ Array($0.values) }) { operation.progress.cancel() }
    }
}
