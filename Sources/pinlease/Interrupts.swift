import Glibc

/// Ctrl-C as an event to poll instead of a process kill: SIGINT is blocked, and the waits
/// between polls take it with `sigtimedwait`, so a cancel can be sent before exiting.
enum Interrupts {
    /// Blocks SIGINT for the process (this thread and the threads it starts later).
    static func block() {
        var set = interruptSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits up to `seconds`; returns true as soon as a (blocked) SIGINT arrives.
    static func wait(seconds: Double) -> Bool {
        var set = interruptSet()
        var timeout = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        while true {
            let signal = sigtimedwait(&set, nil, &timeout)
            if signal == SIGINT { return true }
            if signal < 0 && errno == EINTR { continue }
            return false
        }
    }

    private static func interruptSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        return set
    }
}
