import PinJSON

/// A complete HTTP answer: status, headers (names lowercased) and body.
public struct HTTPResponse: Sendable {
    public let status: Int
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The last value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.last { $0.name == lowered }?.value
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The body parsed as JSON, or nil when it is not JSON.
    public var json: JSON? { try? JSONCodec.parse(body) }

    /// The error this answer stands for: its problem (title and detail) when the body is one,
    /// else the status and the start of the body.
    public var error: ClientError {
        if case .object(let object)? = json, object["title"] != nil || object["type"] != nil {
            var document = object
            if document["status"] == nil { document["status"] = .int(Int64(status)) }
            return ClientError(problem: Problem(document))
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self).split(whereSeparator: \.isNewline).first ?? ""
        return ClientError(CLIExitStatus.forHTTPStatus(status), "HTTP \(status)" + (text.isEmpty ? "" : ": \(text)"))
    }
}
