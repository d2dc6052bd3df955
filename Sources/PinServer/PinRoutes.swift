import PinCore
import PinJSON
import PinWire

/// `/v1/pins*`: pin ranges of locked files, list, show and remove pins. Admin only.
enum PinRoutes {
    /// The URL path of pin `id`, as sent in `Location`.
    static func location(of id: String) -> String {
        "/v1/pins/\(id)"
    }

    static func routes(core: PinCoreService) -> [Route] {
        [
            Route("POST", "/v1/pins", access: .admin) { request in
                let body = try PinRequestBody.decode(request)
                request.log.set("path", body.request.path)
                let pin = try core.pin(body.request)
                request.log.set("pin_id", pin.id)
                return .json(pin.json, status: 201, headers: [HTTPHeader("Location", location(of: pin.id))])
            },
            Route("GET", "/v1/pins", access: .admin) { request in
                try PageQuery.rejectUnknown(request)
                let list = core.pinList(page: try PageQuery.decode(request, list: "pins").page)
                return .json(PageQuery.paged(list.json, list: "pins", next: list.next))
            },
            Route("GET", "/v1/pins/{id}", access: .admin) { request in
                .json(try core.pin(id: request.parameters["id", default: ""]).json)
            },
            Route("DELETE", "/v1/pins/{id}", access: .admin) { request in
                try core.unpin(id: request.parameters["id", default: ""])
                return HTTPResponse(status: 204)
            },
        ]
    }
}
