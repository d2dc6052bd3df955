/// Why a text is not valid JSON, with jansson's location of the problem.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// jansson's message, for example "'[' or '{' expected near 'x'".
    public let message: String
    /// The 1-based line of the error.
    public let line: Int
    /// The 1-based column (in characters) of the error on `line`.
    public let column: Int
    /// The byte offset of the error from the start of the text.
    public let position: Int

    /// An error at `line`/`column` (1-based) and byte `position`.
    public init(message: String, line: Int, column: Int, position: Int) {
        self.message = message
        self.line = line
        self.column = column
        self.position = position
    }

    public var description: String { "\(message) at line \(line), column \(column)" }
}
