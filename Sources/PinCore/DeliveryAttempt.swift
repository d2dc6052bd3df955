/// One attempt to deliver a webhook, as the delivery log records it (`GET /v1/leases/{id}/deliveries`).
public struct DeliveryAttempt: Sendable, Equatable {
    /// What the attempt led to.
    public enum Outcome: Sendable, Equatable {
        /// A 2xx answer: the message is done.
        case delivered
        /// Another attempt starts at this wall-clock time (epoch seconds).
        case retrying(at: Double)
        /// No further attempt, with why ("gone (410)", "deadline passed after 3 attempts", "cancelled", ...).
        case failed(String)

        /// The transport gave up on the message because it was cancelled (the lease no longer
        /// needs it, or the transport stopped): `failed` with the reason ``cancelledReason``.
        public static var cancelled: Outcome { .failed(cancelledReason) }
        /// The reason of ``cancelled``, as the delivery log shows it.
        public static let cancelledReason = "cancelled"
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
}
