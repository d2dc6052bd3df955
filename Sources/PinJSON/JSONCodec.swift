import CJansson

/// Converts between JSON text and ``JSON`` values with jansson.
public enum JSONCodec {
    /// jansson seeds its hash function on first use; doing it once up front keeps that off racing threads.
    private static let seeded: Bool = {
        json_object_seed(0)
        return true
    }()

    /// Parses one JSON value (of any type) from `bytes`. Duplicate object keys are an error.
    /// - Throws: ``JSONParseError`` with jansson's message, line, column and byte position.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSON {
        _ = seeded
        var error = json_error_t()
        let root: UnsafeMutablePointer<json_t>? = bytes.withUnsafeBytes { raw in
            guard let start = raw.baseAddress?.assumingMemoryBound(to: CChar.self) else {
                return json_loadb("", 0, cjansson_decode_flags(), &error)
            }
            return json_loadb(start, raw.count, cjansson_decode_flags(), &error)
        }
        guard let root else { throw parseError(from: &error) }
        defer { json_decref(root) }
        return value(of: root)
    }

    /// Parses one JSON value from `text`.
    public static func parse(_ text: String) throws(JSONParseError) -> JSON {
        try parse(Array(text.utf8))
    }

    /// Encodes `value` as JSON text: compact by default, indented by two spaces when `pretty`.
    /// Object members keep their insertion order; non-finite reals encode as `null`.
    public static func encode(_ value: JSON, pretty: Bool = false) -> String {
        encode(value, flags: cjansson_encode_flags(pretty ? 1 : 0))
    }

    /// Encodes `value` as one log line: compact, every character beyond ASCII written as a
    /// `\uXXXX` escape (control characters always are), so the text holds no line break and
    /// nothing a terminal could act on; reals with 15 significant digits.
    public static func encodeLogLine(_ value: JSON) -> String {
        encode(value, flags: cjansson_log_line_flags())
    }

    private static func encode(_ value: JSON, flags: Int) -> String {
        _ = seeded
        let node = makeNode(value)
        defer { json_decref(node) }
        guard let text = json_dumps(node, flags) else { return "null" }
        defer { free(text) }
        return String(cString: text)
    }

    private static func parseError(from error: inout json_error_t) -> JSONParseError {
        let message = withUnsafeBytes(of: &error.text) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return JSONParseError(
            message: message, line: Int(error.line), column: Int(error.column), position: Int(error.position))
    }

    private static func value(of node: UnsafeMutablePointer<json_t>) -> JSON {
        switch cjansson_typeof(node) {
        case JSON_OBJECT:
            var object = JSONObject()
            var iterator = json_object_iter(node)
            while let current = iterator {
                if let key = json_object_iter_key(current), let member = json_object_iter_value(current) {
                    let name = String(
                        decoding: UnsafeRawBufferPointer(start: key, count: json_object_iter_key_len(current)),
                        as: UTF8.self)
                    object[name] = value(of: member)
                }
                iterator = json_object_iter_next(node, current)
            }
            return .object(object)
        case JSON_ARRAY:
            return .array(
                (0..<json_array_size(node)).compactMap { index in json_array_get(node, index).map(value(of:)) })
        case JSON_STRING:
            guard let text = json_string_value(node) else { return .string("") }
            return .string(
                String(decoding: UnsafeRawBufferPointer(start: text, count: json_string_length(node)), as: UTF8.self))
        case JSON_INTEGER:
            return .int(json_integer_value(node))
        case JSON_REAL:
            return .double(json_real_value(node))
        case JSON_TRUE:
            return .bool(true)
        case JSON_FALSE:
            return .bool(false)
        default:
            return .null
        }
    }

    /// Builds a jansson tree holding one reference, which the caller releases with `json_decref`.
    private static func makeNode(_ value: JSON) -> UnsafeMutablePointer<json_t> {
        let node: UnsafeMutablePointer<json_t>?
        switch value {
        case .null:
            node = json_null()
        case .bool(let flag):
            node = flag ? json_true() : json_false()
        case .int(let number):
            node = json_integer(number)
        case .double(let number):
            node = number.isFinite ? json_real(number) : json_null()
        case .string(let text):
            node = text.withCString { json_stringn($0, text.utf8.count) }
        case .array(let elements):
            node = json_array()
            if let node {
                for element in elements { json_array_append_new(node, makeNode(element)) }
            }
        case .object(let object):
            node = json_object()
            if let node {
                for (key, member) in object.pairs {
                    _ = key.withCString { json_object_setn_new(node, $0, key.utf8.count, makeNode(member)) }
                }
            }
        }
        // jansson returns NULL only when malloc fails; there is no way to continue without memory.
        guard let node else { fatalError("jansson could not allocate a JSON value") }
        return node
    }
}
