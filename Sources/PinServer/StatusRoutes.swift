import PinCore
import PinWire

/// `GET /v1/status` (admin): counts of files, pins and leases by state, the pin budget in use and
/// the newest event's sequence number, from the core's memory (cheap, unlike paging the lists).
enum StatusRoutes {
    static func routes(core: PinCoreService) -> [Route] {
        [
            Route("GET", "/v1/status", access: .admin) { _ in
                .json(core.status().json)
            }
        ]
    }
}
