/// When a final notice (`lease.revoked`, `lease.released`, `file.violation`) is attempted: a
/// Standard Webhooks-like list of delays, one per attempt. A final notice is not a call to
/// act, so it has no deadline: a holder that was down for hours still hears it.
public struct RetrySchedule: Sendable, Equatable {
    /// `delays[i]`: seconds before attempt `i + 1`, counted from the previous attempt's failure
    /// (from the message's creation for the first attempt). After the last, the message fails.
    public let delays: [Double]

    /// Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 27.5 hours in all.
    public static let standard = RetrySchedule(unchecked: [0, 5, 300, 1800, 7200, 18000, 36000, 36000])

    /// `nil` unless there is at least one delay and every delay is finite and >= 0.
    public init?(delays: [Double]) {
        guard !delays.isEmpty, delays.allSatisfy({ $0.isFinite && $0 >= 0 }) else { return nil }
        self.delays = delays
    }

    private init(unchecked delays: [Double]) {
        self.delays = delays
    }

    /// Parses "0,5,300,..." (seconds); `nil` when it is not such a list.
    public static func parse(_ text: String) -> RetrySchedule? {
        var delays: [Double] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let seconds = Double(part.filter { $0 != " " }) else { return nil }
            delays.append(seconds)
        }
        return RetrySchedule(delays: delays)
    }

    /// Seconds to wait before the next attempt once `failedAttempts` attempts failed; `nil`
    /// when the schedule is used up.
    public func delay(afterFailedAttempts failedAttempts: Int) -> Double? {
        let index = max(0, failedAttempts)
        return index < delays.count ? delays[index] : nil
    }

    /// How long the schedule runs from the first attempt to the last, in seconds.
    public var span: Double { delays.dropFirst().reduce(0, +) }
}
