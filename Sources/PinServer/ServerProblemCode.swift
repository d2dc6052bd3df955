/// Problem codes that belong to the HTTP layer rather than to the core. The raw value is the
/// stable slug of `https://pinlease.dev/problems/<slug>`.
enum ServerProblemCode: String, Sendable, CaseIterable {
    case invalidJSON = "invalid-json"
    case invalidBody = "invalid-body"
    case invalidQuery = "invalid-query"
    /// A malformed request line on the descriptor hand-off socket.
    case invalidRequest = "invalid-request"
    case bodyTooLarge = "body-too-large"
    case unauthorized = "unauthorized"
    case forbidden = "forbidden"
    case notFoundRoute = "not-found-route"
    case methodNotAllowed = "method-not-allowed"
    case unsupportedMediaType = "unsupported-media-type"
    case daemonNotReady = "daemon-not-ready"
    case shuttingDown = "shutting-down"

    /// A short, human title for the problem (RFC 9457 `title`).
    var title: String {
        switch self {
        case .invalidJSON: "Malformed JSON"
        case .invalidBody: "Invalid request body"
        case .invalidQuery: "Invalid query argument"
        case .invalidRequest: "Invalid request"
        case .bodyTooLarge: "Request body too large"
        case .unauthorized: "Authentication required"
        case .forbidden: "Not allowed for this token"
        case .notFoundRoute: "No such endpoint"
        case .methodNotAllowed: "Method not allowed"
        case .unsupportedMediaType: "Unsupported media type"
        case .daemonNotReady: "Daemon not ready"
        case .shuttingDown: "Daemon is shutting down"
        }
    }
}
