import PinCore
import PinJSON
import PinWire

/// `/v1/files*`: inspect, prepare, lock and unlock files, and list the tracked ones. Admin only.
enum FilesRoutes {
    static func routes(core: PinCoreService) -> [Route] {
        [
            Route("POST", "/v1/files/inspect", access: .admin) { request in
                let body = try PathRequestBody.decode(request)
                request.log.set("path", body.path)
                return .json(try core.inspect(path: body.path).json)
            },
            Route("POST", "/v1/files/prepare", access: .admin) { request in
                let body = try PrepareRequestBody.decode(request)
                request.log.set("path", body.request.path)
                guard body.isAsync else { return .json(try core.prepare(body.request).json) }
                let operation = try core.startPrepare(body.request)
                return .json(
                    operation.apiJSON, status: 202,
                    headers: [HTTPHeader("Location", OperationRoutes.location(of: operation.id))])
            },
            Route("POST", "/v1/files/lock-immutable", access: .admin) { request in
                let body = try LockRequestBody.decode(request)
                request.log.set("path", body.path)
                return .json(try core.lock(path: body.path, writers: body.writers).json)
            },
            Route("POST", "/v1/files/unlock", access: .admin) { request in
                let body = try PathRequestBody.decode(request)
                request.log.set("path", body.path)
                return .json(try core.unlock(path: body.path).json)
            },
            Route("GET", "/v1/files", access: .admin) { request in
                try PageQuery.rejectUnknown(request)
                let (files, next) = core.trackedFiles(page: try PageQuery.decode(request, list: "files").page)
                return .json(PageQuery.paged(["items": .array(files.map(\.json))], list: "files", next: next))
            },
        ]
    }
}
