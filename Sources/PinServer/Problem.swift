import PinCore
import PinJSON
import PinWire

/// An RFC 9457 problem: what every error path of the API answers with, as
/// `application/problem+json`. Handlers and body decoders throw it directly.
struct Problem: Error, Sendable, Equatable {
    /// The stable slug; the `type` URI is ``typeURIPrefix`` + slug.
    let code: String
    let title: String
    let status: Int
    let detail: String
    /// Extra members after the standard ones (for example `path`, `reasons`, `field`).
    let extensions: JSONObject
    /// Response headers the problem needs, for example `WWW-Authenticate` or `Allow`.
    let headers: [HTTPHeader]

    static let typeURIPrefix = CoreError.problemTypePrefix

    init(
        code: String, title: String, status: Int, detail: String, extensions: JSONObject = JSONObject(),
        headers: [HTTPHeader] = []
    ) {
        self.code = code
        self.title = title
        self.status = status
        self.detail = detail
        self.extensions = extensions
        self.headers = headers
    }

    /// A problem with one of the server's own codes; its status and title come from ``ProblemMapping``.
    init(_ code: ServerProblemCode, _ detail: String, extensions: JSONObject = JSONObject(), headers: [HTTPHeader] = [])
    {
        self.init(
            code: code.rawValue, title: code.title, status: ProblemMapping.status(for: code), detail: detail,
            extensions: extensions, headers: headers)
    }

    /// The problem document. Extensions never replace the standard members.
    var json: JSON {
        var object: JSONObject = [
            "type": .string(Self.typeURIPrefix + code),
            "title": .string(title),
            "status": .int(Int64(status)),
            "detail": .string(detail),
        ]
        for (key, value) in extensions.pairs where object[key] == nil {
            object[key] = value
        }
        return .object(object)
    }
}
