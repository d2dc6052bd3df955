import PinCore
import PinJSON

/// Strict decoding of a JSON object request body: the media type must be JSON, the body a
/// JSON object, every member known and of the expected type. Failures are 4xx ``Problem``s
/// that name the offending field.
struct JSONBody {
    let object: JSONObject

    /// Checks the media type and parses the body of `request` as a JSON object.
    /// - Parameter example: a minimal valid body, quoted in the message for an empty body.
    static func decode(_ request: HTTPRequest, example: String) throws(Problem) -> JSONBody {
        if request.body.isEmpty && request.contentType == nil {
            throw Problem(.invalidBody, "The request body is empty; send a JSON object such as \(example).")
        }
        try checkMediaType(request.contentType)
        if request.body.isEmpty {
            throw Problem(.invalidBody, "The request body is empty; send a JSON object such as \(example).")
        }
        let value: JSON
        do {
            value = try JSONCodec.parse(request.body)
        } catch {
            if let problem = outOfRange(error, in: request.body) { throw problem }
            throw Problem(
                .invalidJSON, "Malformed JSON at line \(error.line), column \(error.column): \(error.message)",
                extensions: ["line": .int(Int64(error.line)), "column": .int(Int64(error.column))])
        }
        guard case .object(let object) = value else {
            throw Problem(
                .invalidBody, "The request body must be a JSON object, not \(article(value.typeName)).",
                extensions: ["expected": "object"])
        }
        return JSONBody(object: object)
    }

    /// Like ``decode(_:example:)``, but an empty body (with or without a JSON media type) is an
    /// empty object: for requests whose every field is optional.
    static func decodeOptional(_ request: HTTPRequest) throws(Problem) -> JSONBody {
        if request.body.isEmpty {
            if let contentType = request.contentType { try checkMediaType(contentType) }
            return JSONBody(object: [:])
        }
        return try decode(request, example: "{}")
    }

    /// An integer member; nil when absent or null.
    func optionalInt(_ field: String) throws(Problem) -> Int? {
        switch numeric(field) {
        case nil, .null?:
            return nil
        case .int(let number)?:
            guard let value = Int(exactly: number) else {
                throw wrongType(field, expected: "integer", got: .int(number))
            }
            return value
        case let other?:
            throw wrongType(field, expected: "integer", got: other)
        }
    }

    /// The member `field`, a real with no fractional part (`5176.0`) as the integer it is: JSON
    /// Schema's `type: integer` (the OpenAPI document) accepts it, so the daemon does too.
    private func numeric(_ field: String) -> JSON? {
        guard case .double(let number)? = object[field], number.rounded(.towardZero) == number,
            let integer = Int64(exactly: number)
        else { return object[field] }
        return .int(integer)
    }

    /// An integer beyond 64 bits fails jansson's parse ("too big integer"): the JSON is well formed,
    /// so it is the member's value that is refused (422 naming the member), not the syntax (400).
    static func outOfRange(_ error: JSONParseError, in body: [UInt8]) -> Problem? {
        guard error.message.hasPrefix("too big") else { return nil }
        let range = "integers are from \(Int64.min) to \(Int64.max)"
        guard let field = memberName(before: error.position, in: body) else {
            return Problem(.invalidBody, "A number is out of range: \(range).", extensions: ["expected": "integer"])
        }
        return Problem(
            .invalidBody, "Field \"\(field)\" is out of range: \(range).",
            extensions: ["field": .string(field), "expected": "integer"])
    }

    /// The name of the member whose value was being read at byte `position`: the last string
    /// before it that was followed by a colon (the innermost member, for nested objects).
    static func memberName(before position: Int, in body: [UInt8]) -> String? {
        var name: String?
        var lastString: [UInt8] = []
        var current: [UInt8] = []
        var inString = false
        var escaped = false
        for byte in body.prefix(max(0, position)) {
            if inString {
                if escaped {
                    escaped = false
                    current.append(byte)
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    lastString = current
                } else {
                    current.append(byte)
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
                current = []
            } else if byte == UInt8(ascii: ":") {
                name = String(decoding: lastString, as: UTF8.self)
            }
        }
        return name
    }

    /// Accepts `application/json`, optionally with `charset=utf-8`; anything else is 415.
    static func checkMediaType(_ contentType: String?) throws(Problem) {
        guard let contentType else {
            throw Problem(.unsupportedMediaType, "Send the body with Content-Type: application/json.")
        }
        let parts = contentType.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmed.lowercased() }
        guard parts.first == "application/json" else {
            throw Problem(
                .unsupportedMediaType,
                "Content-Type \(contentType.debugDescription) is not supported; use application/json.",
                extensions: ["content_type": .string(contentType)])
        }
        for parameter in parts.dropFirst() where !parameter.isEmpty {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmed }
            guard pair.count == 2, pair[0] == "charset" else { continue }
            let charset = pair[1].trimming("\"")
            guard charset == "utf-8" || charset == "utf8" else {
                throw Problem(
                    .unsupportedMediaType,
                    "Charset \(charset.debugDescription) is not supported; JSON bodies are UTF-8.",
                    extensions: ["content_type": .string(contentType)])
            }
        }
    }

    /// Fails on the first member whose name is not in `allowed`.
    func rejectUnknownFields(allowed: [String]) throws(Problem) {
        if let unknown = object.keys.first(where: { !allowed.contains($0) }) {
            let list = allowed.map { "\"\($0)\"" }.joined(separator: ", ")
            throw Problem(
                .invalidBody, "Unknown field \"\(unknown)\"; allowed fields are \(list).",
                extensions: ["field": .string(unknown)])
        }
    }

    /// Whether the body gives member `field`: present and not null (null is absent).
    func gives(_ field: String) -> Bool {
        switch object[field] {
        case nil, .null?: false
        default: true
        }
    }

    /// The string member `field`; nil when absent or null.
    func optionalString(_ field: String) throws(Problem) -> String? {
        switch object[field] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let other?: throw wrongType(field, expected: "string", got: other)
        }
    }

    /// The string member `field`, which must be present.
    func requiredString(_ field: String) throws(Problem) -> String {
        guard let text = try optionalString(field) else { throw missing(field, expected: "string") }
        return text
    }

    /// The Boolean member `field`; nil when absent or null.
    func optionalBool(_ field: String) throws(Problem) -> Bool? {
        switch object[field] {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        case let other?: throw wrongType(field, expected: "boolean", got: other)
        }
    }

    /// The member `field` as one of `E`'s raw values; nil when absent or null.
    func optionalEnum<E: RawRepresentable & CaseIterable>(_ field: String, as type: E.Type) throws(Problem) -> E?
    where E.RawValue == String {
        guard let text = try optionalString(field) else { return nil }
        guard let value = E(rawValue: text) else {
            let list = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw Problem(
                .invalidBody, "Field \"\(field)\" must be one of \(list), not \(text.debugDescription).",
                extensions: ["field": .string(field), "expected": .array(E.allCases.map { .string($0.rawValue) })])
        }
        return value
    }

    /// The member `field` as one of `E`'s raw values, which must be present.
    func requiredEnum<E: RawRepresentable & CaseIterable>(_ field: String, as type: E.Type) throws(Problem) -> E
    where E.RawValue == String {
        guard let value = try optionalEnum(field, as: type) else {
            let list = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw Problem(
                .invalidBody, "Field \"\(field)\" (one of \(list)) is required.",
                extensions: ["field": .string(field), "expected": .array(E.allCases.map { .string($0.rawValue) })])
        }
        return value
    }

    /// An integer >= 0; nil when absent or null. Anything else is `invalid-body`.
    func optionalUnsigned(_ field: String) throws(Problem) -> UInt64? {
        switch numeric(field) {
        case nil, .null?:
            return nil
        case .int(let number)?:
            guard number >= 0 else {
                throw Problem(
                    .invalidBody, "Field \"\(field)\" must not be negative (got \(number)).",
                    extensions: ["field": .string(field), "expected": "non-negative integer"])
            }
            return UInt64(number)
        case let other?:
            throw wrongType(field, expected: "integer", got: other)
        }
    }

    /// A byte count: an integer >= 0 or a string such as "64MiB" (parsed by `ByteSize.parse`);
    /// nil when absent or null. A negative or unparsable size is `invalid-size`, another type `invalid-body`.
    func optionalSize(_ field: String) throws(Problem) -> UInt64? {
        switch numeric(field) {
        case nil, .null?:
            return nil
        case .int(let number)?:
            guard number >= 0 else {
                throw ProblemMapping.problem(
                    for: CoreError(
                        .invalidSize, "Field \"\(field)\" must not be negative (got \(number)).",
                        extensions: ["field": .text(field)]))
            }
            return UInt64(number)
        case .string(let text)?:
            do {
                return try ByteSize.parse(text)
            } catch {
                var extensions = error.extensions
                extensions["field"] = .text(field)
                throw ProblemMapping.problem(for: CoreError(error.code, error.detail, extensions: extensions))
            }
        case let other?:
            throw Problem(
                .invalidBody,
                "Field \"\(field)\" must be an integer number of bytes or a string such as \"64MiB\", "
                    + "not \(Self.article(other.typeName)).",
                extensions: ["field": .string(field), "expected": "integer or string"])
        }
    }

    func wrongType(_ field: String, expected: String, got value: JSON) -> Problem {
        Problem(
            .invalidBody, "Field \"\(field)\" must be \(Self.article(expected)), not \(Self.article(value.typeName)).",
            extensions: ["field": .string(field), "expected": .string(expected)])
    }

    private func missing(_ field: String, expected: String) -> Problem {
        Problem(
            .invalidBody, "Field \"\(field)\" (\(expected)) is required.",
            extensions: ["field": .string(field), "expected": .string(expected)])
    }

    /// "a string", "an integer", "null".
    static func article(_ typeName: String) -> String {
        switch typeName {
        case "null": "null"
        case "integer", "object", "array": "an \(typeName)"
        default: "a \(typeName)"
        }
    }
}
