import PinCore
import PinJSON

/// The body of `POST /v1/pins`: `{"path","offset"?,"length"?,"access","longterm"?}`.
/// `offset` is an integer (default 0), `length` an integer or a size string such as "4MiB"
/// (default: to the end of the file), `longterm` is `false` (default), `true` or `"if-possible"`.
struct PinRequestBody {
    let request: PinRequest

    static func decode(_ request: HTTPRequest) throws(Problem) -> PinRequestBody {
        let body = try JSONBody.decode(request, example: #"{"path":"a.bin","access":"read"}"#)
        try body.rejectUnknownFields(allowed: fields)
        return PinRequestBody(request: try pinRequest(body))
    }

    /// The members of a pin request (also accepted by a lease grant that pins for itself).
    static let fields = ["path", "offset", "length", "access", "longterm"]

    /// The pin request in `body`'s pin members.
    static func pinRequest(_ body: JSONBody) throws(Problem) -> PinRequest {
        PinRequest(
            path: try body.requiredString("path"),
            offset: try body.optionalUnsigned("offset"),
            length: try body.optionalSize("length"),
            access: try body.requiredEnum("access", as: PinAccess.self),
            longTerm: try longTerm(body))
    }

    /// `longterm`: a Boolean or the string "if-possible"; absent or null is `false`.
    private static func longTerm(_ body: JSONBody) throws(Problem) -> LongTermMode {
        let expected: JSON = [false, true, .string(LongTermMode.ifPossible.rawValue)]
        switch body.object["longterm"] {
        case nil, .null?:
            return .no
        case .bool(let required)?:
            return required ? .required : .no
        case .string(LongTermMode.ifPossible.rawValue)?:
            return .ifPossible
        case .string(let text)?:
            throw Problem(
                .invalidBody,
                "Field \"longterm\" must be false, true or \"if-possible\", not \(text.debugDescription).",
                extensions: ["field": "longterm", "expected": expected])
        case let other?:
            throw Problem(
                .invalidBody,
                "Field \"longterm\" must be false, true or \"if-possible\", not \(JSONBody.article(other.typeName)).",
                extensions: ["field": "longterm", "expected": expected])
        }
    }
}
