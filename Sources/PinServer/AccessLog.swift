import CMicroHTTPD
import Logging

/// The one line logged per request once it completed: a readable message
/// (`POST /v1/leases 201 3.1ms 412B`) and the fields `request_id`, `method`, `route` (the route
/// template, `unmatched` when none matched), `status`, `duration_ms`, `bytes`, plus what the
/// handler added (`lease_id`, `pin_id`, `operation_id`, `path`, `problem`). Never a token.
///
/// Its level keeps a busy daemon's log readable at the default `info`: requests that changed
/// something (any method but GET and HEAD) and every failure (status 400 and above) are `info`;
/// routine traffic, which a busy daemon serves all the time, is `debug`: successful reads (GET,
/// HEAD: probes, lists, event streams, scrapes) and successful lease renewals.
enum AccessLog {
    static func record(_ context: RequestContext, termination: MHD_RequestTerminationCode, to logger: Logger) {
        let elapsed = ContinuousClock.now - context.started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let duration = (milliseconds * 10).rounded() / 10
        var fields = context.log.metadata
        fields["request_id"] = .string(context.log.requestID)
        fields["method"] = .string(context.method)
        if fields["route"] == nil { fields["route"] = .string("unmatched") }
        fields["duration_ms"] = .stringConvertible(duration)
        guard let outcome = context.outcome else {
            fields["termination"] = .stringConvertible(Int(termination.rawValue))
            logger.debug(
                "\(context.method) \(context.path) ended without a response (termination code \(termination.rawValue))",
                metadata: fields)
            return
        }
        fields["status"] = .stringConvertible(outcome.status)
        fields["bytes"] = .stringConvertible(outcome.bytes)
        logger.log(
            level: level(method: context.method, route: fields["route"], status: outcome.status),
            "\(context.method) \(context.path) \(outcome.status) \(duration)ms \(outcome.bytes)B", metadata: fields)
    }

    /// `info` for changes and failures, `debug` for routine traffic (see ``AccessLog``).
    static func level(method: String, route: Logger.Metadata.Value?, status: Int) -> Logger.Level {
        guard status < 400 else { return .info }
        if method == "GET" || method == "HEAD" { return .debug }
        if case .string("/v1/leases/{id}/renew") = route { return .debug }
        return .info
    }
}
