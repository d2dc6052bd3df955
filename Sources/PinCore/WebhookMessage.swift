/// One webhook to deliver: the same id, URL, secret and body on every attempt until it is
/// delivered, refused for good, past its deadline or cancelled.
public struct WebhookMessage: Sendable, Equatable {
    /// The `webhook-id` header: "msg_" + 32 hex digits (``makeID()``), the same on every attempt,
    /// so receivers can drop duplicates.
    public let id: String
    public let leaseID: String
    public let eventType: EventType
    public let url: String
    public let secret: String
    /// Sent and signed exactly as given.
    public let body: [UInt8]
    /// Wall-clock seconds since the epoch: no retry starts after it (an attempt scheduled for a
    /// moment before it counts as started in time even if the sender is late).
    public let retryUntil: Double
    /// Extra attempts allowed after `retryUntil`, spaced by the backoff.
    public let attemptsAfterDeadline: Int
    /// A final notice: attempted on the sender's ``RetrySchedule`` instead of the backoff, and
    /// `retryUntil` does not apply.
    public let followsRetrySchedule: Bool
    /// Attempts already made before this message was handed to the sender (before a restart,
    /// or before an operator's retry): numbering and the schedule continue from there.
    public let attemptsMade: Int
    /// Wall-clock epoch seconds of the first attempt; `nil`: at once (or as the schedule says).
    public let firstAttemptAt: Double?

    public init(
        id: String, leaseID: String, eventType: EventType, url: String, secret: String, body: [UInt8],
        retryUntil: Double, attemptsAfterDeadline: Int, followsRetrySchedule: Bool = false, attemptsMade: Int = 0,
        firstAttemptAt: Double? = nil
    ) {
        self.id = id
        self.leaseID = leaseID
        self.eventType = eventType
        self.url = url
        self.secret = secret
        self.body = body
        self.retryUntil = retryUntil
        self.attemptsAfterDeadline = attemptsAfterDeadline
        self.followsRetrySchedule = followsRetrySchedule
        self.attemptsMade = max(0, attemptsMade)
        self.firstAttemptAt = firstAttemptAt
    }

    /// A new unguessable message id: "msg_" + 32 hex digits.
    public static func makeID() -> String { RandomID.make(prefix: "msg_") }
}
