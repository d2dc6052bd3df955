import PinCore

/// The body of `inspect` and `unlock`: `{"path"}`.
struct PathRequestBody: Equatable {
    let path: String

    static func decode(_ request: HTTPRequest) throws(Problem) -> PathRequestBody {
        let body = try JSONBody.decode(request, example: #"{"path":"a.bin"}"#)
        try body.rejectUnknownFields(allowed: ["path"])
        return PathRequestBody(path: try body.requiredString("path"))
    }
}

/// The body of `lock-immutable`: `{"path","writers"?}`; `writers` defaults to `"none"`.
struct LockRequestBody: Equatable {
    let path: String
    let writers: LockWriters

    static func decode(_ request: HTTPRequest) throws(Problem) -> LockRequestBody {
        let body = try JSONBody.decode(request, example: #"{"path":"a.bin"}"#)
        try body.rejectUnknownFields(allowed: ["path", "writers"])
        return LockRequestBody(
            path: try body.requiredString("path"),
            writers: try body.optionalEnum("writers", as: LockWriters.self) ?? .none)
    }
}

/// The body of `prepare`: `{"path","size"?,"mode"?,"create"?,"async"?}`.
struct PrepareRequestBody {
    let request: PrepareRequest
    /// Run in the background and answer 202 with an operation.
    let isAsync: Bool

    static func decode(_ request: HTTPRequest) throws(Problem) -> PrepareRequestBody {
        let body = try JSONBody.decode(request, example: #"{"path":"a.bin","size":"64MiB"}"#)
        try body.rejectUnknownFields(allowed: ["path", "size", "mode", "create", "async"])
        let prepare = PrepareRequest(
            path: try body.requiredString("path"),
            size: try body.optionalSize("size"),
            mode: try body.optionalEnum("mode", as: PrepareMode.self) ?? .fill,
            create: try body.optionalBool("create") ?? false)
        return PrepareRequestBody(request: prepare, isAsync: try body.optionalBool("async") ?? false)
    }
}
