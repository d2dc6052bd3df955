import PinCore
import PinJSON

/// The API's JSON form of ``OperationSnapshot``.
extension OperationSnapshot: JSONRepresentable {
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
        if let result { object["result"] = result.json }
        if let error { object["error"] = .object(error.problemJSON) }
        return .object(object)
    }
}
