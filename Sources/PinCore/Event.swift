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
/// happened, and what it says (``EventPayload``). Its JSON form (the SSE `data:` line, the
/// webhook body and the stored row) is written by PinWire.
public struct Event: Sendable, Equatable {
    public let sequence: UInt64
    public let type: EventType
    public let timestamp: String
    public let payload: EventPayload
    /// The holder of the lease the event is about; `nil` for file events. A holder token sees
    /// only the events of its own leases.
    public let holder: String?

    public init(sequence: UInt64, type: EventType, timestamp: String, payload: EventPayload, holder: String?) {
        self.sequence = sequence
        self.type = type
        self.timestamp = timestamp
        self.payload = payload
        self.holder = holder
    }
}

/// Writes an event as the body of a webhook message: the exact text that is stored in the
/// outbox, signed and sent. The domain does not write JSON; the daemon wires PinWire's form.
public typealias EventBodyEncoder = @Sendable (Event) -> String
