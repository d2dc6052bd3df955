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
    /// Extra attempts allowed after `retryUntil` (the daemon uses 3 for lease.revoked), spaced by the backoff.
    public let attemptsAfterDeadline: Int

    public init(
        id: String, leaseID: String, eventType: EventType, url: String, secret: String, body: [UInt8],
        retryUntil: Double, attemptsAfterDeadline: Int
    ) {
        self.id = id
        self.leaseID = leaseID
        self.eventType = eventType
        self.url = url
        self.secret = secret
        self.body = body
        self.retryUntil = retryUntil
        self.attemptsAfterDeadline = attemptsAfterDeadline
    }

    /// A new unguessable message id: "msg_" + 32 hex digits.
    public static func makeID() -> String { RandomID.make(prefix: "msg_") }
}
