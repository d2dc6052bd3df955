/// A JSON value. Objects keep their keys in insertion order (see ``JSONObject``); integers
/// and reals are distinct cases so that byte counts survive a round trip exactly.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    /// A finite real number; non-finite values encode as `null`.
    case double(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    /// The string, when this is `.string`.
    public var stringValue: String? {
        if case .string(let value) = self { value } else { nil }
    }

    /// The integer, when this is `.int` (a real is never converted).
    public var int64Value: Int64? {
        if case .int(let value) = self { value } else { nil }
    }

    /// The number as a `Double`, when this is `.double` or `.int`.
    public var doubleValue: Double? {
        switch self {
        case .double(let value): value
        case .int(let value): Double(value)
        default: nil
        }
    }

    /// The Boolean, when this is `.bool`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { value } else { nil }
    }

    /// The object, when this is `.object`.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { value } else { nil }
    }

    /// The elements, when this is `.array`.
    public var arrayValue: [JSON]? {
        if case .array(let value) = self { value } else { nil }
    }

    /// Whether this is `.null`.
    public var isNull: Bool { self == .null }

    /// The JSON type name used in messages: "null", "boolean", "integer", "number", "string", "array" or "object".
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

extension JSON: CustomStringConvertible {
    /// The compact JSON text of the value.
    public var description: String { JSONCodec.encode(self) }
}

extension JSON: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}

extension JSON: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension JSON: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
}

extension JSON: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension JSON: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension JSON: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
}

extension JSON: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSON)...) { self = .object(JSONObject(elements)) }
}
