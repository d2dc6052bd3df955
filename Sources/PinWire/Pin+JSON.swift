import PinCore
import PinJSON

/// The API's JSON form of ``Pin``.
extension Pin: JSONRepresentable {
    public var json: JSON {
        var longTerm: JSONObject = [
            "requested": record.longTerm.json,
            "held": .bool(longTermHeld),
            "registered_buffers": .int(Int64(registeredBuffers)),
        ]
        if let longTermReason { longTerm["reason"] = .string(longTermReason) }
        var object: JSONObject = [
            "id": .string(record.id),
            "path": .string(record.path.canonical),
            "offset": .int(Int64(record.offset)),
            "length": .int(Int64(record.length)),
            "access": .string(record.access.rawValue),
            "state": .string(state.rawValue),
            "resident_bytes": .int(Int64(residentBytes)),
            "map_sync": .bool(mapSync),
            "longterm": .object(longTerm),
            "auto_pin": .bool(record.autoPin),
            "leases": .array(leaseIDs.map { .string($0) }),
            "created_at": .string(record.createdAt),
        ]
        if let mapSyncReason { object["map_sync_reason"] = .string(mapSyncReason) }
        if let reason { object["reason"] = .string(reason) }
        return .object(object)
    }
}

/// The API's JSON form of ``PinList``.
extension PinList: JSONRepresentable {
    public var json: JSON { .object(["items": .array(pins.map(\.json)), "budget": usage.json]) }
}
