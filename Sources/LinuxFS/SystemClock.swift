internal import CLinux
import Glibc

/// The kernel's clocks, read with `clock_gettime`, and a sleep on the monotonic one.
public enum SystemClock {
    /// `CLOCK_MONOTONIC` in nanoseconds: never steps with the wall clock; counts from an
    /// arbitrary point (the boot), so only differences mean something.
    ///
    /// The corresponding C function is `clock_gettime(CLOCK_MONOTONIC)`, which cannot fail for it.
    public static func monotonicNanoseconds() -> UInt64 {
        let now = monotonic()
        return UInt64(now.seconds) * 1_000_000_000 + UInt64(now.nanoseconds)
    }

    /// ``monotonicNanoseconds()`` as whole seconds and the nanoseconds into the second.
    public static func monotonic() -> (seconds: Int64, nanoseconds: Int64) {
        read(CLOCK_MONOTONIC)
    }

    /// `CLOCK_REALTIME`: the wall clock, as whole seconds since the Unix epoch and the nanoseconds
    /// into that second (0..<1e9, also before the epoch). It may step (NTP, an operator).
    ///
    /// The corresponding C function is `clock_gettime(CLOCK_REALTIME)`, which cannot fail for it.
    public static func realtime() -> (seconds: Int64, nanoseconds: Int64) {
        read(CLOCK_REALTIME)
    }

    /// Blocks the calling thread for `duration` (at least; the scheduler may add to it).
    /// A signal handler running meanwhile does not shorten it.
    ///
    /// The corresponding C function is `clock_nanosleep(CLOCK_MONOTONIC)`; on `EINTR` it sleeps
    /// on for the time that remained.
    public static func sleep(for duration: Duration) {
        guard duration > .zero else { return }
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        // clock_nanosleep returns the error number instead of setting errno.
        while clock_nanosleep(CLOCK_MONOTONIC, 0, &request, &remaining) == EINTR {
            request = remaining
        }
    }

    private static func read(_ clock: clockid_t) -> (seconds: Int64, nanoseconds: Int64) {
        var now = timespec()
        clock_gettime(clock, &now)
        return (Int64(now.tv_sec), Int64(now.tv_nsec))
    }
}
