import LinuxFS

/// The two clocks a ``DeadlineTimer`` reads: the wall clock its deadlines are given in, and
/// the monotonic clock it waits on. Tests pass a clock they move themselves.
struct DeadlineClock: Sendable {
    /// Milliseconds since the Unix epoch.
    let wallMilliseconds: @Sendable () -> Int64
    /// Nanoseconds on a clock that never steps.
    let monotonicNanoseconds: @Sendable () -> UInt64

    /// `CLOCK_REALTIME` and `CLOCK_MONOTONIC`.
    static let system = DeadlineClock(
        wallMilliseconds: { WallClock.nowMilliseconds() },
        monotonicNanoseconds: { SystemClock.monotonicNanoseconds() })
}
