/// One value of a ``CoreError``'s extensions: a scalar, a list, nested named members, or a
/// domain value whose form the wire defines (a layout report, a violation). The wire renders
/// each case; the core only says what the value is.
public indirect enum ErrorExtensionValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)
    case boolean(Bool)
    case list([ErrorExtensionValue])
    /// Named members in order (what a nested object of a stored problem document reads back as).
    case record(ErrorExtensions)
    /// A file's layout report, in the same form as the API shows it.
    case layoutReport(LayoutReport)
    /// The reasons a file is not ready, each in the same form as in a layout report.
    case notReadyReasons([NotReadyReason])
    /// A change behind the daemon's back, in the same form as the API shows it.
    case violation(FileViolation)

    /// A list of texts.
    public static func texts(_ values: some Sequence<String>) -> Self {
        .list(values.map { .text($0) })
    }

    /// A list of integers.
    public static func integers<T: BinaryInteger>(_ values: some Sequence<T>) -> Self {
        .list(values.map { .integer(Int64(clamping: $0)) })
    }
}

extension ErrorExtensionValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
}

extension ErrorExtensionValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .integer(value) }
}

extension ErrorExtensionValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
}

extension ErrorExtensionValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: ErrorExtensionValue...) { self = .list(elements) }
}
