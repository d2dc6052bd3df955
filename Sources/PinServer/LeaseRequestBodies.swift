import PinCore
import PinJSON

/// The body of `POST /v1/leases`: `{"pin_id"}` or the pin members of `POST /v1/pins` (the
/// daemon then pins for the lease), plus `"holder"`, `"ttl_s"?`, `"grace_s"?`,
/// `"webhook_url"?` and `"holder_uid"?` (only processes of that uid receive the descriptor).
struct LeaseGrantBody {
    let request: LeaseGrantRequest

    static func decode(_ request: HTTPRequest) throws(Problem) -> LeaseGrantBody {
        let body = try JSONBody.decode(request, example: #"{"pin_id":"pin_…","holder":"h1","ttl_s":60}"#)
        let leaseFields = ["pin_id", "holder", "ttl_s", "grace_s", "webhook_url", "holder_uid"]
        try body.rejectUnknownFields(allowed: leaseFields + PinRequestBody.fields)
        let target: LeaseTarget
        // A member sent as null is absent (as everywhere in the API): it neither names a pin nor
        // adds a pin member beside pin_id.
        switch (try body.optionalString("pin_id"), body.gives("path")) {
        case (let id?, false):
            if let pinField = PinRequestBody.fields.first(where: body.gives) {
                throw Problem(
                    .invalidBody,
                    "Field \"\(pinField)\" belongs to a new pin; with \"pin_id\" the lease uses that pin.",
                    extensions: ["field": .string(pinField)])
            }
            target = .pin(id: id)
        case (nil, true):
            target = .newPin(try PinRequestBody.pinRequest(body))
        case (_?, true):
            throw Problem(
                .invalidBody, "Give either \"pin_id\" (an existing pin) or \"path\" (pin it for this lease), not both.",
                extensions: ["field": "pin_id"])
        case (nil, false):
            throw Problem(
                .invalidBody, "Field \"pin_id\" (or \"path\" with \"access\" to pin for the lease) is required.",
                extensions: ["field": "pin_id"])
        }
        var uid: UInt32?
        if let number = try body.optionalInt("holder_uid") {
            guard let value = UInt32(exactly: number) else {
                throw Problem(
                    .invalidBody, "Field \"holder_uid\" must be a uid (0 to 4294967295), not \(number).",
                    extensions: ["field": "holder_uid"])
            }
            uid = value
        }
        return LeaseGrantBody(
            request: LeaseGrantRequest(
                target: target, holder: try body.requiredString("holder"), ttlSeconds: try body.optionalInt("ttl_s"),
                graceSeconds: try body.optionalInt("grace_s"), webhookURL: try body.optionalString("webhook_url"),
                holderUID: uid))
    }
}

/// The body of `POST /v1/leases/{id}/renew`: `{"ttl_s"?}` (or none).
struct LeaseRenewBody {
    let ttlSeconds: Int?

    static func decode(_ request: HTTPRequest) throws(Problem) -> LeaseRenewBody {
        let body = try JSONBody.decodeOptional(request)
        try body.rejectUnknownFields(allowed: ["ttl_s"])
        return LeaseRenewBody(ttlSeconds: try body.optionalInt("ttl_s"))
    }
}

/// The body of `POST /v1/leases/{id}/revoke`: `{"reason"?, "grace_s"?}` (or none).
struct LeaseRevokeBody {
    let reason: String?
    let graceSeconds: Int?

    static func decode(_ request: HTTPRequest) throws(Problem) -> LeaseRevokeBody {
        let body = try JSONBody.decodeOptional(request)
        try body.rejectUnknownFields(allowed: ["reason", "grace_s"])
        let reason = try body.optionalString("reason")
        // Counted in Unicode scalars, as JSON Schema's maxLength counts (the OpenAPI document says 200).
        if let reason, reason.isEmpty || reason.unicodeScalars.count > 200 {
            throw Problem(
                .invalidBody, "Field \"reason\" must be 1 to 200 characters.", extensions: ["field": "reason"])
        }
        return LeaseRevokeBody(reason: reason, graceSeconds: try body.optionalInt("grace_s"))
    }
}

/// `GET /v1/leases?state=&holder=&pin_id=`.
struct LeaseListQuery {
    let filter: LeaseFilter
    var page = PageRequest.all

    static func decode(_ request: HTTPRequest) throws(Problem) -> LeaseListQuery {
        try PageQuery.rejectUnknown(request, others: ["state", "holder", "pin_id"])
        var state: LeaseState?
        if let text = request.query["state"] {
            guard let value = LeaseState(rawValue: text) else {
                let states = LeaseState.allCases.map(\.rawValue).joined(separator: ", ")
                throw Problem(
                    .invalidQuery,
                    "state must be one of \(states), not \(text.debugDescription).",
                    extensions: [
                        "parameter": "state", "expected": .array(LeaseState.allCases.map { .string($0.rawValue) }),
                    ])
            }
            state = value
        }
        return LeaseListQuery(
            filter: LeaseFilter(state: state, holder: request.query["holder"], pinID: request.query["pin_id"]),
            page: try PageQuery.decode(request, list: "leases").page)
    }
}
