/// A JSON object that remembers the order in which keys were first inserted, so encoded
/// output is stable and readable. Equality ignores key order, as JSON object semantics do.
public struct JSONObject: Sendable, Equatable {
    private var orderedKeys: [String] = []
    private var values: [String: JSON] = [:]

    /// An empty object.
    public init() {}

    /// An object with `pairs` in order; a repeated key keeps its first position and its last value.
    public init(_ pairs: [(String, JSON)]) {
        for (key, value) in pairs { self[key] = value }
    }

    /// The value for `key`. Assigning a value to a new key appends the key; assigning `nil` removes it.
    public subscript(key: String) -> JSON? {
        get { values[key] }
        set {
            guard let newValue else {
                removeValue(forKey: key)
                return
            }
            if values.updateValue(newValue, forKey: key) == nil { orderedKeys.append(key) }
        }
    }

    /// The keys in insertion order.
    public var keys: [String] { orderedKeys }

    /// The number of members.
    public var count: Int { orderedKeys.count }

    /// Whether the object has no members.
    public var isEmpty: Bool { orderedKeys.isEmpty }

    /// The members in insertion order.
    public var pairs: [(key: String, value: JSON)] {
        orderedKeys.map { ($0, values[$0] ?? .null) }
    }

    /// Removes `key` and returns its value, if it was present.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSON? {
        guard let old = values.removeValue(forKey: key) else { return nil }
        orderedKeys.removeAll { $0 == key }
        return old
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.values == rhs.values
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// An object with the literal's members in the order written.
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self.init(elements)
    }
}
