import Synchronization

@testable import PinCore

/// A ``FileRecordStore`` in memory, for unit tests: every change is "durable" when the call
/// returns. Keep one instance to model a restart. A test can make the next matching save fail
/// (``failNextSave(_:)``) or run code inside one (``onSave``), e.g. to act while an unlock is
/// between retiring a lock and writing its record.
final class MemoryFileRecords: FileRecordStore {
    private struct State {
        var locks: [RootedPath: LockRecord] = [:]
        var pins: [String: PinRecord] = [:]
        var operations: [String: OperationRecord] = [:]
        var failSave: (@Sendable (LockRecord) -> CoreError?)?
    }

    private let state = Mutex(State())
    /// Called (outside the store's lock) with every lock record before it is saved.
    let onSave = Mutex<(@Sendable (LockRecord) -> Void)?>(nil)

    /// The next lock save for which `error` returns an error throws it and saves nothing.
    func failNextSave(_ error: @escaping @Sendable (LockRecord) -> CoreError?) {
        state.withLock { $0.failSave = error }
    }

    func saveLock(_ record: LockRecord) throws(CoreError) {
        onSave.withLock { $0 }?(record)
        let failure = state.withLock { state -> CoreError? in
            guard let error = state.failSave?(record) else {
                state.locks[record.path] = record
                return nil
            }
            state.failSave = nil
            return error
        }
        if let failure { throw failure }
    }

    func deleteLock(_ path: RootedPath) throws(CoreError) {
        state.withLock { $0.locks[path] = nil }
    }

    func locks() throws(CoreError) -> [LockRecord] {
        state.withLock { $0.locks.values.sorted { $0.path.canonical < $1.path.canonical } }
    }

    func savePin(_ record: PinRecord) throws(CoreError) {
        state.withLock { $0.pins[record.id] = record }
    }

    func deletePin(id: String) throws(CoreError) {
        state.withLock { $0.pins[id] = nil }
    }

    func pins() throws(CoreError) -> [PinRecord] {
        state.withLock { $0.pins.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }
    }

    func saveOperation(_ record: OperationRecord) throws(CoreError) {
        state.withLock { $0.operations[record.id] = record }
    }

    func operations() throws(CoreError) -> [OperationRecord] {
        state.withLock { $0.operations.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }
    }

    func operation(id: String) throws(CoreError) -> OperationRecord? {
        state.withLock { $0.operations[id] }
    }

    func pruneOperations(keeping count: Int) throws(CoreError) {
        state.withLock { state in
            let newest = Set(state.operations.values.sorted { $0.createdAt > $1.createdAt }.prefix(count).map(\.id))
            state.operations = state.operations.filter { $0.value.state == .running || newest.contains($0.key) }
        }
    }
}
