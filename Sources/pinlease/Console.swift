import Glibc

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
