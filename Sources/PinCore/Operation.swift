import PinJSON

/// The life of an asynchronous operation.
public enum OperationState: String, Sendable {
    case running, succeeded, failed, cancelled
}

/// A point-in-time view of an operation, as the API shows it.
public struct OperationSnapshot: Sendable, JSONRepresentable {
    public let id: String
    public let kind: String
    public let path: String
    public let state: OperationState
    public let doneBytes: UInt64
    public let totalBytes: UInt64
    public let createdAt: String
    public let finishedAt: String?
    public let result: JSON?
    public let error: JSONObject?

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

    public var json: JSON {
        var object: JSONObject = [
            "id": .string(id),
            "kind": .string(kind),
            "state": .string(state.rawValue),
            "path": .string(path),
            "progress": .object(["done_bytes": .int(Int64(doneBytes)), "total_bytes": .int(Int64(totalBytes))]),
            "created_at": .string(createdAt),
        ]
        if let finishedAt { object["finished_at"] = .string(finishedAt) }
        if let result { object["result"] = result }
        if let error { object["error"] = .object(error) }
        return .object(object)
    }
}
