import Glibc

/// Wall-clock time in milliseconds since the Unix epoch (`CLOCK_REALTIME`): what deadlines
/// are stored and shown as. Timers that wait for them convert to the monotonic clock when
/// they are set, so a clock step while a timer runs does not shift it (see ``DeadlineTimer``).
package enum WallClock {
    package static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// RFC 3339 UTC with milliseconds, e.g. `2026-12-01T08:00:00.123Z`.
    package static func format(milliseconds: Int64) -> String {
        let (quotient, remainder) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        var seconds = time_t(remainder < 0 ? quotient - 1 : quotient)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(remainder < 0 ? remainder + 1000 : remainder)
        let fraction = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
    }

    /// ``format(milliseconds:)`` of seconds since the epoch (rounded down to the millisecond).
    package static func format(epochSeconds: Double) -> String {
        format(milliseconds: Int64((epochSeconds * 1000).rounded(.down)))
    }
}
