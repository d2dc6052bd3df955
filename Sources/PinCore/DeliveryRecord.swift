/// One recorded webhook attempt (the delivery log), at the precision the log keeps: times in
/// epoch milliseconds (rounded down), the duration in whole milliseconds (rounded).
package struct DeliveryRecord: Sendable, Equatable {
    package enum Outcome: Sendable, Equatable {
        case delivered
        /// The next attempt starts at this time (epoch milliseconds).
        case retrying(atMilliseconds: Int64)
        /// No further attempt, and why.
        case failed(reason: String)
    }

    package var messageID: String
    package var leaseID: String
    package var event: EventType
    package var url: String
    /// 1-based.
    package var attempt: Int
    /// Epoch milliseconds.
    package var startedAt: Int64
    package var durationMilliseconds: Int64
    package var statusCode: Int?
    package var error: String?
    package var outcome: Outcome

    package init(
        messageID: String, leaseID: String, event: EventType, url: String, attempt: Int, startedAt: Int64,
        durationMilliseconds: Int64, statusCode: Int?, error: String?, outcome: Outcome
    ) {
        self.messageID = messageID
        self.leaseID = leaseID
        self.event = event
        self.url = url
        self.attempt = attempt
        self.startedAt = startedAt
        self.durationMilliseconds = durationMilliseconds
        self.statusCode = statusCode
        self.error = error
        self.outcome = outcome
    }

    /// `attempt` as the log keeps it.
    package init(_ attempt: DeliveryAttempt) {
        let outcome: Outcome =
            switch attempt.outcome {
            case .delivered: .delivered
            case .retrying(let at): .retrying(atMilliseconds: Self.milliseconds(at))
            case .failed(let reason): .failed(reason: reason)
            }
        self.init(
            messageID: attempt.messageID, leaseID: attempt.leaseID, event: attempt.eventType, url: attempt.url,
            attempt: attempt.attempt, startedAt: Self.milliseconds(attempt.startedAt),
            durationMilliseconds: Int64((attempt.durationSeconds * 1000).rounded()), statusCode: attempt.statusCode,
            error: attempt.error, outcome: outcome)
    }

    /// Epoch seconds as milliseconds, rounded down (as ``WallClock/format(epochSeconds:)`` shows them).
    private static func milliseconds(_ epochSeconds: Double) -> Int64 {
        Int64((epochSeconds * 1000).rounded(.down))
    }
}
