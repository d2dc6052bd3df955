import PinJSON

/// One attempt to deliver a webhook, as the delivery log records it (`GET /v1/leases/{id}/deliveries`).
public struct DeliveryAttempt: Sendable, Equatable, JSONRepresentable {
    /// What the attempt led to.
    public enum Outcome: Sendable, Equatable {
        /// A 2xx answer: the message is done.
        case delivered
        /// Another attempt starts at this wall-clock time (epoch seconds).
        case retrying(at: Double)
        /// No further attempt, with why ("gone (410)", "deadline passed after 3 attempts", "cancelled", ...).
        case failed(String)
    }

    public let messageID: String
    public let leaseID: String
    public let eventType: EventType
    public let url: String
    /// 1-based.
    public let attempt: Int
    /// Wall-clock epoch seconds.
    public let startedAt: Double
    public let durationSeconds: Double
    /// The HTTP status, if a response came.
    public let statusCode: Int?
    /// curl's error text or a reason ("3xx redirect (not followed) to <Location>", a refused connection, ...).
    public let error: String?
    public let outcome: Outcome

    public init(
        messageID: String, leaseID: String, eventType: EventType, url: String, attempt: Int, startedAt: Double,
        durationSeconds: Double, statusCode: Int?, error: String?, outcome: Outcome
    ) {
        self.messageID = messageID
        self.leaseID = leaseID
        self.eventType = eventType
        self.url = url
        self.attempt = attempt
        self.startedAt = startedAt
        self.durationSeconds = durationSeconds
        self.statusCode = statusCode
        self.error = error
        self.outcome = outcome
    }

    /// `{"webhook_id","lease_id","event","url","attempt","started_at","duration_ms","status"?,"error"?,
    /// "outcome":"delivered"|"retrying"|"failed","next_attempt_at"?,"reason"?}`; times are RFC 3339 UTC
    /// with milliseconds, `duration_ms` an integer.
    public var json: JSON {
        var object: JSONObject = [
            "webhook_id": .string(messageID), "lease_id": .string(leaseID), "event": .string(eventType.rawValue),
            "url": .string(url), "attempt": .int(Int64(attempt)),
            "started_at": .string(WallClock.format(epochSeconds: startedAt)),
            "duration_ms": .int(Int64((durationSeconds * 1000).rounded())),
        ]
        if let statusCode { object["status"] = .int(Int64(statusCode)) }
        if let error { object["error"] = .string(error) }
        switch outcome {
        case .delivered:
            object["outcome"] = "delivered"
        case .retrying(let at):
            object["outcome"] = "retrying"
            object["next_attempt_at"] = .string(WallClock.format(epochSeconds: at))
        case .failed(let reason):
            object["outcome"] = "failed"
            object["reason"] = .string(reason)
        }
        return .object(object)
    }
}
