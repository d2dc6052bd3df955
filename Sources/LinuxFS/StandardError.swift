import Glibc
import Synchronization

/// The process's standard error (descriptor 2), where the daemon's log lines go.
public enum StandardError {
    /// Held while a line is written, so a line that needs a second write(2) (after a short
    /// write) is still not cut by another thread's line.
    private static let writing = Mutex(())

    /// Writes all of `bytes` to standard error: one write(2) when the kernel takes it whole,
    /// more after a short write; `EINTR` is retried. Lines written by concurrent threads through
    /// here never interleave.
    /// - Throws: `LinuxError` from `write`, e.g. `EPIPE` or `EBADF` when standard error is gone.
    public static func writeAll(_ bytes: UnsafeRawBufferPointer) throws(LinuxError) {
        guard let base = bytes.baseAddress else { return }
        try writing.withLock { _ throws(LinuxError) in
            var written = 0
            while written < bytes.count {
                let count = try retryingOnInterrupt("write") {
                    write(STDERR_FILENO, base + written, bytes.count - written)
                }
                if count == 0 { return }  // nothing taken and no error: give up rather than spin
                written += count
            }
        }
    }
}
