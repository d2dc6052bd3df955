import Glibc  // the pinlease CLI's one libc file: descriptors, signals, clocks and exit for the other files

/// Unbuffered writes to stdout and stderr (write(2) on the descriptors: no shared `FILE *`
/// state, and every line is out before the process exits or waits).
enum Console {
    /// Writes `text` and a newline to stdout.
    static func out(_ text: String) { write(STDOUT_FILENO, text + "\n") }

    /// Writes `text` to stderr as is (progress bars redraw with `\r`, without a newline).
    static func err(raw text: String) { write(STDERR_FILENO, text) }

    /// Writes `text` and a newline to stderr.
    static func err(_ text: String) { write(STDERR_FILENO, text + "\n") }

    private static func write(_ descriptor: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }  // a closed pipe: nothing more can be shown
            bytes = bytes.dropFirst(written)
        }
    }
}

/// The process and its terminal, for the files that cannot see libc.
enum Terminal {
    /// Whether stdout is a terminal.
    static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    /// Whether stderr is a terminal.
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// The value of the environment variable `name`, if it is set.
    static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    /// Seconds on the monotonic clock.
    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// Sleeps for `microseconds`.
    static func sleep(microseconds: UInt32) { usleep(microseconds) }

    /// Ends the process with `code` (exit(3): atexit handlers run, stdio is flushed).
    static func exitProcess(_ code: Int32) -> Never { exit(code) }
}

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
