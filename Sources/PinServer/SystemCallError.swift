import Glibc

/// A failed system call of the HTTP layer (sockets, token files), described in one line.
struct SystemCallError: Error, Sendable, CustomStringConvertible {
    let call: String
    let subject: String
    let errno: Int32

    /// Captures the current `errno`.
    init(_ call: String, _ subject: String, errno: Int32 = Glibc.errno) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    var description: String {
        "\(call)(\(subject)): \(String(cString: strerror(errno)))"
    }
}
