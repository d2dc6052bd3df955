import Glibc

/// A moment broken down into the fields of the proleptic Gregorian calendar in UTC.
public struct CalendarTime: Sendable, Equatable {
    /// The year, e.g. 2026.
    public let year: Int
    /// 1...12.
    public let month: Int
    /// 1...31.
    public let day: Int
    /// 0...23.
    public let hour: Int
    /// 0...59.
    public let minute: Int
    /// 0...60 (60 only on a leap second, which the C library reports only with a `right/` zone).
    public let second: Int

    /// The UTC calendar fields of `epochSeconds` (seconds since 1970-01-01T00:00:00Z).
    ///
    /// The corresponding C function is `gmtime_r`, which fails only for years beyond `Int32`;
    /// all fields are 0 then.
    public init(utcEpochSeconds epochSeconds: Int64) {
        var seconds = time_t(epochSeconds)
        var parts = tm()
        _ = gmtime_r(&seconds, &parts)
        year = Int(parts.tm_year) + 1900
        month = Int(parts.tm_mon) + 1
        day = Int(parts.tm_mday)
        hour = Int(parts.tm_hour)
        minute = Int(parts.tm_min)
        second = Int(parts.tm_sec)
    }
}
