import PinCore
import PinJSON

/// `/healthz` (the process answers) and `/readyz` (state loaded, roots usable). No token needed.
enum HealthRoutes {
    static func routes(core: PinCoreService) -> [Route] {
        [
            Route("GET", "/healthz", access: .anonymous) { _ in
                .json(["status": "ok"])
            },
            Route("GET", "/readyz", access: .anonymous) { _ in
                let readiness = core.readiness()
                guard readiness.ready else {
                    let detail = "The daemon is not ready: " + readiness.reasons.joined(separator: "; ")
                    throw Problem(
                        .daemonNotReady, detail, extensions: ["reasons": .array(readiness.reasons.map { .string($0) })])
                }
                return .json(["status": "ready"])
            },
        ]
    }
}
