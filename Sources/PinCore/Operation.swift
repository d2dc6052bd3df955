/// The life of an asynchronous operation.
public enum OperationState: String, Sendable {
    case running, succeeded, failed, cancelled
}

/// A point-in-time view of an operation, as the API shows it.
public struct OperationSnapshot: Sendable {
    public let id: String
    public let kind: String
    public let path: String
    public let state: OperationState
    public let doneBytes: UInt64
    public let totalBytes: UInt64
    public let createdAt: String
    public let finishedAt: String?
    public let result: OperationResult?
    public let error: CoreError?

    init(_ record: OperationRecord, progress: PrepareProgress?) {
        id = record.id
        kind = record.kind
        path = record.path
        state = record.state
        doneBytes = progress?.doneBytes ?? record.doneBytes
        totalBytes = progress?.totalBytes ?? record.totalBytes
        createdAt = record.createdAt
        finishedAt = record.finishedAt
        result = record.result
        error = record.error
    }
}
