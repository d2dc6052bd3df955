/// What the sender reported about an outbox entry, written with the next batch of the delivery log.
package enum OutboxUpdate: Sendable, Equatable {
    /// `attempts` made; the next one at `nextAttemptAt` (epoch milliseconds) when it retries.
    case attempted(id: String, attempts: Int, nextAttemptAt: Int64?)
    /// Pending again (an operator's retry) after `attempts`, the next attempt at `at`.
    case reopened(id: String, attempts: Int, at: Int64)
    /// No further attempt: `outcome` is "delivered" or why it failed.
    case finished(id: String, outcome: String, at: Int64)
}
