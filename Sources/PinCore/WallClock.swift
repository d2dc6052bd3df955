import LinuxFS

/// Wall-clock time in milliseconds since the Unix epoch (`CLOCK_REALTIME`): what deadlines
/// are stored and shown as. Timers that wait for them convert to the monotonic clock when
/// they are set, so a clock step while a timer runs does not shift it (see ``DeadlineTimer``).
package enum WallClock {
    package static func nowMilliseconds() -> Int64 {
        let now = SystemClock.realtime()
        return now.seconds * 1000 + now.nanoseconds / 1_000_000
    }

    /// RFC 3339 UTC with milliseconds, e.g. `2026-12-01T08:00:00.123Z`.
    package static func format(milliseconds: Int64) -> String {
        let (quotient, remainder) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let parts = CalendarTime(utcEpochSeconds: remainder < 0 ? quotient - 1 : quotient)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(remainder < 0 ? remainder + 1000 : remainder)
        let fraction = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.year)-\(two(parts.month))-\(two(parts.day))T"
            + "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)).\(fraction)Z"
    }

    /// ``format(milliseconds:)`` of seconds since the epoch (rounded down to the millisecond).
    package static func format(epochSeconds: Double) -> String {
        format(milliseconds: Int64((epochSeconds * 1000).rounded(.down)))
    }
}
