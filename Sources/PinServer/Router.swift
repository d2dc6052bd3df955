/// Who may call a route.
enum RouteAccess: Sendable {
    /// No token needed (health probes).
    case anonymous
    /// An admin token is needed; holder tokens get 403.
    case admin
    /// Any valid token; the handler restricts a holder to what is its own.
    case authenticated
}

/// Produces the response for a matched request; throws ``Problem``, `CoreError` or anything else.
typealias RouteHandler = @Sendable (HTTPRequest) throws -> HTTPResponse

/// One endpoint: a method and a path pattern whose `{name}` segments match any one non-empty segment.
struct Route: Sendable {
    let method: String
    let pattern: String
    let access: RouteAccess
    let handler: RouteHandler
    /// The handler never blocks: it runs on the libmicrohttpd thread, and its lease transition
    /// is waited for off-thread (``RequestDispatcher/respondQuickly(to:)``).
    let quick: Bool
    fileprivate let segments: [Segment]

    fileprivate enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    init(
        _ method: String, _ pattern: String, access: RouteAccess, quick: Bool = false,
        handler: @escaping RouteHandler
    ) {
        self.method = method
        self.pattern = pattern
        self.access = access
        self.quick = quick
        self.handler = handler
        self.segments = Route.split(pattern).map { segment in
            if segment.hasPrefix("{"), segment.hasSuffix("}"), segment.count > 2 {
                .parameter(String(segment.dropFirst().dropLast()))
            } else {
                .literal(String(segment))
            }
        }
    }

    /// The parameters when `path` fits the pattern.
    fileprivate func parameters(matching pathSegments: [Substring]) -> [String: String]? {
        guard pathSegments.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, actual) in zip(segments, pathSegments) {
            switch segment {
            case .literal(let text) where text == actual:
                continue
            case .parameter(let name) where !actual.isEmpty:
                parameters[name] = String(actual)
            default:
                return nil
            }
        }
        return parameters
    }

    /// "/v1/files/" -> ["v1", "files", ""]: empty segments are kept so a trailing slash does not match.
    fileprivate static func split(_ path: String) -> [Substring] {
        path.dropFirst(path.hasPrefix("/") ? 1 : 0).split(separator: "/", omittingEmptySubsequences: false)
    }
}

/// The result of looking a request up in the ``Router``.
enum RouteMatch: Sendable {
    case found(Route, parameters: [String: String])
    /// The path exists but not with this method; `allowed` lists the methods that exist.
    case methodNotAllowed(allowed: [String])
    case notFound
}

/// Matches method and path against the API's routes. `HEAD` is served by `GET` routes.
struct Router: Sendable {
    let routes: [Route]

    init(_ routes: [Route]) {
        self.routes = routes
    }

    func match(method: String, path: String) -> RouteMatch {
        let segments = Route.split(path)
        let candidates = routes.compactMap { route in route.parameters(matching: segments).map { (route, $0) } }
        guard !candidates.isEmpty else { return .notFound }
        let effectiveMethod = method == "HEAD" ? "GET" : method
        if let (route, parameters) = candidates.first(where: { $0.0.method == effectiveMethod }) {
            return .found(route, parameters: parameters)
        }
        var allowed: [String] = []
        for (route, _) in candidates where !allowed.contains(route.method) {
            allowed.append(route.method)
            if route.method == "GET" { allowed.append("HEAD") }
        }
        return .methodNotAllowed(allowed: allowed)
    }
}
