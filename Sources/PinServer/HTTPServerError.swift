/// Why the HTTP server could not start; `description` is one line fit for a startup error.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
