import Logging
import PinCore
import PinJSON

/// Turns a fully received request into a response: authentication, routing, the route's
/// access rule, the handler, and the mapping of every failure to a problem. Blocking; it
/// runs on a worker thread, never on a libmicrohttpd thread.
struct RequestDispatcher: Sendable {
    let router: Router
    let tokens: TokenStore
    let logger: Logger

    init(router: Router, tokens: TokenStore, logger: Logger) {
        self.router = router
        self.tokens = tokens
        self.logger = logger
    }

    /// The dispatcher of the whole v1 API on `core`.
    init(core: PinCoreService, tokens: TokenStore, logger: Logger) {
        let routes =
            HealthRoutes.routes(core: core) + FilesRoutes.routes(core: core) + OperationRoutes.routes(core: core)
            + PinRoutes.routes(core: core) + LeaseRoutes.routes(core: core) + EventRoutes.routes(events: core.events)
            + StatusRoutes.routes(core: core)
        self.init(router: Router(routes), tokens: tokens, logger: logger)
    }

    func respond(to request: HTTPRequest) -> HTTPResponse {
        do {
            return try handle(request)
        } catch {
            return .problem(ProblemMapping.problem(for: error, logger: logger))
        }
    }

    private func handle(_ incoming: HTTPRequest) throws -> HTTPResponse {
        var request = incoming
        let match = router.match(method: request.method, path: request.path)
        var needsToken = request.path == "/v1" || request.path.hasPrefix("/v1/")
        if case .found(let route, _) = match, route.access != .anonymous { needsToken = true }
        if needsToken { request.principal = try authenticate(request) }
        switch match {
        case .notFound:
            throw Problem(.notFoundRoute, "There is no endpoint at \(request.path).")
        case .methodNotAllowed(let allowed):
            throw Problem(
                .methodNotAllowed,
                "\(request.method) is not allowed on \(request.path); use \(allowed.joined(separator: " or ")).",
                extensions: ["allowed": .array(allowed.map { .string($0) })],
                headers: [HTTPHeader("Allow", allowed.joined(separator: ", "))])
        case .found(let route, let parameters):
            if route.access == .admin && request.principal?.role != .admin {
                throw Problem(
                    .forbidden,
                    "This token's role may not use \(route.method) \(route.pattern); it needs an admin token.")
            }
            request.parameters = parameters
            return try route.handler(request)
        }
    }

    private func authenticate(_ request: HTTPRequest) throws(Problem) -> Principal {
        let challenge = [HTTPHeader("WWW-Authenticate", #"Bearer realm="pinlease""#)]
        switch tokens.authenticate(authorization: request.authorization) {
        case .missing:
            throw Problem(.unauthorized, "Send Authorization: Bearer <token>.", headers: challenge)
        case .invalid:
            throw Problem(.unauthorized, "The bearer token is not valid.", headers: challenge)
        case .authenticated(let principal):
            return principal
        }
    }
}
