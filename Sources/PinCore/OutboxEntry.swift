/// A webhook message: kept durably from the transition that caused it, pending until it was
/// delivered or given up (so a restart resumes it, with the same `webhook-id`, its attempt
/// count and its next attempt time), then kept finished with its lease, so that an operator can
/// have it delivered again.
package struct OutboxEntry: Sendable, Equatable {
    package var id: String
    package var leaseID: String
    package var event: EventType
    package var url: String
    package var body: String
    package var retryUntil: Int64
    package var attemptsAfterDeadline: Int
    /// Attempts made so far.
    package var attempts = 0
    /// Epoch milliseconds of the next attempt; `nil`: at once.
    package var nextAttemptAt: Int64?
    /// Epoch milliseconds when it finished; `nil` while pending.
    package var finishedAt: Int64?
    /// "delivered", or why it failed.
    package var outcome: String?

    /// A final notice (anything but a call to act, `lease.revoking` or `lease.expired`) has no
    /// deadline: it follows the sender's ``RetrySchedule``. Derived from the event so that rows
    /// written before the schedule existed follow it too.
    package var followsRetrySchedule: Bool { event != .leaseRevoking && event != .leaseExpired }

    package init(
        id: String, leaseID: String, event: EventType, url: String, body: String, retryUntil: Int64,
        attemptsAfterDeadline: Int, attempts: Int = 0, nextAttemptAt: Int64? = nil, finishedAt: Int64? = nil,
        outcome: String? = nil
    ) {
        self.id = id
        self.leaseID = leaseID
        self.event = event
        self.url = url
        self.body = body
        self.retryUntil = retryUntil
        self.attemptsAfterDeadline = attemptsAfterDeadline
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.finishedAt = finishedAt
        self.outcome = outcome
    }
}
