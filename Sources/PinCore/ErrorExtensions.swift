/// The machine-readable members of a ``CoreError`` (for example `path`, `pids`, `reasons`,
/// `report`): names with typed values, in the order they were added. The order is part of
/// the contract: the problem document lists the members in this order.
public struct ErrorExtensions: Sendable, Equatable {
    /// The members in order; names are unique.
    public private(set) var members: [(name: String, value: ErrorExtensionValue)] = []

    /// No members.
    public init() {}

    /// `members` in order; a repeated name keeps its first position and its last value.
    public init(_ members: [(name: String, value: ErrorExtensionValue)]) {
        for (name, value) in members { self[name] = value }
    }

    /// The value named `name`. Assigning to a new name appends it; assigning `nil` removes it.
    public subscript(name: String) -> ErrorExtensionValue? {
        get { members.first { $0.name == name }?.value }
        set {
            let index = members.firstIndex { $0.name == name }
            switch (index, newValue) {
            case (let index?, let value?): members[index].value = value
            case (let index?, nil): members.remove(at: index)
            case (nil, let value?): members.append((name, value))
            case (nil, nil): break
            }
        }
    }

    /// The names in order.
    public var names: [String] { members.map(\.name) }

    /// Whether there are no members.
    public var isEmpty: Bool { members.isEmpty }

    /// Equal when the same names hold the same values in the same order.
    public static func == (lhs: ErrorExtensions, rhs: ErrorExtensions) -> Bool {
        lhs.members.elementsEqual(rhs.members) { $0.name == $1.name && $0.value == $1.value }
    }
}

extension ErrorExtensions: ExpressibleByDictionaryLiteral {
    /// The literal's members in the order written.
    public init(dictionaryLiteral elements: (String, ErrorExtensionValue)...) {
        self.init(elements.map { (name: $0.0, value: $0.1) })
    }
}
