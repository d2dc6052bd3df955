/// The durable records of locked files, pins and prepare operations. Every call that changes
/// a record returns only once the change is on disk, and throws (`.stateFull` on a full state
/// disk) when it is not; reads return what was committed.
package protocol FileRecordStore: Sendable {
    /// Inserts or replaces the record of `record.path`.
    func saveLock(_ record: LockRecord) throws(CoreError)
    func deleteLock(_ path: RootedPath) throws(CoreError)
    /// Every lock record, by path.
    func locks() throws(CoreError) -> [LockRecord]

    /// Inserts or replaces the pin `record.id`.
    func savePin(_ record: PinRecord) throws(CoreError)
    func deletePin(id: String) throws(CoreError)
    /// Every pin record, oldest first.
    func pins() throws(CoreError) -> [PinRecord]

    /// Inserts or replaces the operation `record.id`.
    func saveOperation(_ record: OperationRecord) throws(CoreError)
    /// Every operation record.
    func operations() throws(CoreError) -> [OperationRecord]
    func operation(id: String) throws(CoreError) -> OperationRecord?
    /// Deletes finished operations beyond the newest `count`.
    func pruneOperations(keeping count: Int) throws(CoreError)
}
