import PinJSON

/// The kinds of event the daemon publishes on `GET /v1/events` and, for those a holder must
/// act on, as webhooks to the lease's `webhook_url`.
public enum EventType: String, Sendable, CaseIterable {
    case leaseGranted = "lease.granted"
    case leaseRevoking = "lease.revoking"
    case leaseRevoked = "lease.revoked"
    case leaseExpired = "lease.expired"
    case leaseReleased = "lease.released"
    case fileViolation = "file.violation"

    /// Whether the lease's webhook receives this event (a grant is answered to its caller).
    public var isWebhook: Bool { self != .leaseGranted }
}

/// One event: a sequence number that only grows (also across restarts), its type, when it
/// happened, and its data (`lease_id`, `pin_id`, `path`, `reason`, `deadline`, `holder`, ...).
public struct Event: Sendable, Equatable {
    public let sequence: UInt64
    public let type: EventType
    public let timestamp: String
    public let data: JSONObject
    /// The holder of the lease the event is about; `nil` for file events. A holder token sees
    /// only the events of its own leases.
    public let holder: String?

    public init(sequence: UInt64, type: EventType, timestamp: String, data: JSONObject, holder: String?) {
        self.sequence = sequence
        self.type = type
        self.timestamp = timestamp
        self.data = data
        self.holder = holder
    }

    /// `{"seq", "type", "timestamp", "data"}`, the body of a webhook and of an SSE `data:` line.
    public var json: JSON {
        .object(["seq": .int(Int64(sequence)), "type": .string(type.rawValue), "timestamp": .string(timestamp), "data": .object(data)])
    }
}
