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

    /// The dispatcher of the whole v1 API on `core`, and of `GET /metrics`.
    init(
        core: PinCoreService, tokens: TokenStore, logger: Logger, metrics: ServerMetrics = .disabled,
        metricsRequireToken: Bool = false
    ) {
        let gauges = CoreGaugeExport(factory: metrics.factory)
        let routes =
            HealthRoutes.routes(core: core) + FilesRoutes.routes(core: core) + OperationRoutes.routes(core: core)
            + PinRoutes.routes(core: core) + LeaseRoutes.routes(core: core) + EventRoutes.routes(events: core.events)
            + VersionRoutes.routes() + StatusRoutes.routes(core: core)
            + MetricsRoutes.routes(core: core, metrics: metrics, gauges: gauges, requireToken: metricsRequireToken)
        self.init(router: Router(routes), tokens: tokens, logger: logger)
    }

    /// The response (blocking). The matched route's template is in the request's log (`route`), for the
    /// access log and the metrics.
    func respond(to request: HTTPRequest) -> HTTPResponse {
        respond(to: request, match: router.match(method: request.method, path: request.path))
    }

    /// ``respond(to:)`` for a request whose route was matched already (``respondQuickly(to:)``).
    func respond(to request: HTTPRequest, match: RouteMatch) -> HTTPResponse {
        var response: HTTPResponse
        do {
            response = try handle(request, match)
        } catch {
            let problem = ProblemMapping.problem(for: error, logger: logger)
            request.log.set("problem", .string(problem.code))
            response = .problem(problem)
        }
        return response
    }

    /// What ``respondQuickly(to:)`` did with a request.
    enum QuickOutcome {
        /// A ``Route/quick`` route answered on the calling thread.
        case answered(HTTPResponse)
        /// Any other route, or a handler that handed off (``QuickRun/handOff()``) before doing
        /// anything: ``respond(to:match:)`` runs it on a worker, with this match.
        case onWorker(RouteMatch)
    }

    /// Runs a ``Route/quick`` route's handler on the calling (libmicrohttpd) thread.
    func respondQuickly(to request: HTTPRequest) -> QuickOutcome {
        let match = router.match(method: request.method, path: request.path)
        guard case .found(let route, _) = match, route.quick else { return .onWorker(match) }
        do {
            return .answered(try QuickRun.$active.withValue(true) { try handle(request, match) })
        } catch is QuickRun.HandOff {
            return .onWorker(match)
        } catch {
            let problem = ProblemMapping.problem(for: error, logger: logger)
            request.log.set("problem", .string(problem.code))
            return .answered(.problem(problem))
        }
    }

    private func handle(_ incoming: HTTPRequest, _ match: RouteMatch) throws -> HTTPResponse {
        var request = incoming
        var needsToken = request.path == "/v1" || request.path.hasPrefix("/v1/")
        if case .found(let route, let parameters) = match {
            Self.describe(route, parameters, in: request.log)
            if route.access != .anonymous { needsToken = true }
        }
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

    /// The request's route template and the ids in its path, for the access log. The route is
    /// named before authentication fails, so a 401 or 403 still says which endpoint was refused.
    private static func describe(_ route: Route, _ parameters: [String: String], in log: RequestLog) {
        log.set("route", .string(route.pattern))
        let collections = ["/v1/leases/": "lease_id", "/v1/pins/": "pin_id", "/v1/operations/": "operation_id"]
        if let id = parameters["id"], let name = collections.first(where: { route.pattern.hasPrefix($0.key) })?.value {
            log.set(name, .string(id))
        }
        if let messageID = parameters["msg_id"] { log.set("message_id", .string(messageID)) }
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

/// Whether a ``Route/quick`` handler runs on a libmicrohttpd thread, where it must not block.
enum QuickRun {
    @TaskLocal static var active = false

    /// Thrown by ``handOff()``.
    struct HandOff: Error {}

    /// On a libmicrohttpd thread, gives the request to a worker (call it before any side
    /// effect: the handler runs again there); elsewhere nothing.
    static func handOff() throws(HandOff) {
        if active { throw HandOff() }
    }
}
