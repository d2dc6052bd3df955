import PinCore
import PinWire

/// `/v1/operations/{id}`: follow (GET) and cancel (DELETE) background operations. Admin only.
enum OperationRoutes {
    /// The URL path of operation `id`, as sent in `Location`.
    static func location(of id: String) -> String {
        "/v1/operations/\(id)"
    }

    static func routes(core: PinCoreService) -> [Route] {
        [
            Route("GET", "/v1/operations/{id}", access: .admin) { request in
                .json(try core.operation(id: request.parameters["id", default: ""]).apiJSON)
            },
            Route("DELETE", "/v1/operations/{id}", access: .admin) { request in
                .json(try core.cancelOperation(id: request.parameters["id", default: ""]).apiJSON)
            },
        ]
    }
}
