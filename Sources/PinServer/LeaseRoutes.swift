import PinCore
import PinJSON
import PinWire

/// `/v1/leases*`: grant and revoke (admin), list, show, renew, release and the delivery log
/// (admin, or the holder for its own leases: another holder's lease is 404).
enum LeaseRoutes {
    /// The URL path of lease `id`, as sent in `Location`.
    static func location(of id: String) -> String {
        "/v1/leases/\(id)"
    }

    static func routes(core: PinCoreService) -> [Route] {
        [
            Route("POST", "/v1/leases", access: .admin, quick: true) { request in
                let grant = try LeaseGrantBody.decode(request).request
                if case .newPin = grant.target { try QuickRun.handOff() }  // pinning blocks: a worker does it
                let lease = try core.grantLease(grant)
                request.log.set("lease_id", lease.id)
                return .json(lease.json, status: 201, headers: [HTTPHeader("Location", location(of: lease.id))])
            },
            Route("GET", "/v1/leases", access: .authenticated) { request in
                let query = try LeaseListQuery.decode(request)
                let list = core.leaseList(query.filter, page: query.page, caller: caller(request))
                return .json(PageQuery.paged(list.json, list: "leases", next: list.next))
            },
            Route("GET", "/v1/leases/{id}", access: .authenticated) { request in
                .json(try core.lease(id: id(request), caller: caller(request)).json)
            },
            Route("POST", "/v1/leases/{id}/renew", access: .authenticated, quick: true) { request in
                let body = try LeaseRenewBody.decode(request)
                return .json(
                    try core.renewLease(id: id(request), ttlSeconds: body.ttlSeconds, caller: caller(request)).json)
            },
            Route("POST", "/v1/leases/{id}/release", access: .authenticated, quick: true) { request in
                _ = try JSONBody.decodeOptional(request).rejectUnknownFields(allowed: [])
                return .json(try core.releaseLease(id: id(request), caller: caller(request)).json)
            },
            Route("POST", "/v1/leases/{id}/revoke", access: .admin, quick: true) { request in
                let body = try LeaseRevokeBody.decode(request)
                let (lease, started) = try core.revokeLease(
                    id: id(request), reason: body.reason, graceSeconds: body.graceSeconds)
                return .json(lease.json, status: started ? 202 : 200)
            },
            Route("GET", "/v1/leases/{id}/deliveries", access: .authenticated) { request in
                try PageQuery.rejectUnknown(request)
                let page = try PageQuery.decode(request, list: "deliveries").page
                let (leaseID, attempts, next) = try core.deliveries(
                    leaseID: id(request), caller: caller(request), page: page)
                let log: JSON = .object(["lease_id": .string(leaseID), "items": .array(attempts.map(\.json))])
                return .json(PageQuery.paged(log, list: "deliveries", next: next))
            },
            Route("POST", "/v1/leases/{id}/deliveries/{msg_id}/retry", access: .authenticated) { request in
                _ = try JSONBody.decodeOptional(request).rejectUnknownFields(allowed: [])
                let messageID = request.parameters["msg_id", default: ""]
                let entry = try core.retryDelivery(leaseID: id(request), messageID: messageID, caller: caller(request))
                return .json(.object(entry.stateJSON), status: 202)
            },
        ]
    }

    private static func id(_ request: HTTPRequest) -> String {
        request.parameters["id", default: ""]
    }

    /// An admin token acts on every lease; a holder token only on its own.
    static func caller(_ request: HTTPRequest) -> LeaseCaller {
        guard let principal = request.principal, principal.role == .admin else {
            return .holder(request.principal?.holder ?? "")  // a holder without a name owns nothing
        }
        return .admin
    }
}
