import PinCore
import PinJSON

/// `/healthz` (the process answers) and `/readyz` (each readiness check: roots usable, state
/// writable, not draining). No token needed. `/readyz` is not quick: its write probe may wait
/// for the disk.
enum HealthRoutes {
    static func routes(core: PinCoreService) -> [Route] {
        [
            // Answered on the libmicrohttpd thread: a liveness probe must not queue behind handlers.
            Route("GET", "/healthz", access: .anonymous, quick: true) { _ in
                .json(["status": "ok"])
            },
            Route("GET", "/readyz", access: .anonymous) { _ in
                let readiness = core.readinessReport()
                let checks = JSON.array(readiness.checks.map(checkJSON))
                guard readiness.ready else {
                    let detail = "The daemon is not ready: " + readiness.reasons.joined(separator: "; ")
                    throw Problem(
                        .daemonNotReady, detail,
                        extensions: [
                            "reasons": .array(readiness.reasons.map { .string($0) }), "ready": false,
                            "checks": checks,
                        ])
                }
                return .json(["status": "ready", "ready": true, "checks": checks])
            },
        ]
    }

    /// `{"name": "roots", "ok": false, "problems": ["root 'data' at /srv/data is not accessible: ..."]}`.
    private static func checkJSON(_ check: Readiness.Check) -> JSON {
        ["name": .string(check.name), "ok": .bool(check.ok), "problems": .array(check.problems.map { .string($0) })]
    }
}
