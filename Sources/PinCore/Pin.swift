import PinJSON

/// A pin as the API shows it (`GET /v1/pins/{id}`), with its residency measured now.
public struct Pin: Sendable, JSONRepresentable {
    public enum State: String, Sendable {
        case active
        /// Could not be re-created after a restart: it holds nothing; `reason` says why.
        case failed
    }

    let record: PinRecord
    public let state: State
    public let residentBytes: UInt64
    public let mapSync: Bool
    public let mapSyncReason: String?
    public let longTermHeld: Bool
    public let longTermReason: String?
    public let registeredBuffers: Int
    public let leaseIDs: [String]
    public let reason: String?

    public var id: String { record.id }

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

/// `GET /v1/pins`: every pin and the budget in use.
public struct PinList: Sendable, JSONRepresentable {
    public let pins: [Pin]
    public let usage: PinBudgetUsage
    /// The sort key to continue after (``PageRequest/after``), when more pins follow.
    public var next: String? = nil

    public var json: JSON { .object(["items": .array(pins.map(\.json)), "budget": usage.json]) }
}
