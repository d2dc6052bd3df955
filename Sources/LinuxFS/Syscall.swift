import Glibc

/// Runs a system call that reports failure by returning -1 and setting `errno`,
/// retrying it for as long as it fails with `EINTR`.
///
/// - Returns: the call's non-negative result.
/// - Throws: `LinuxError` naming `call` and `path` for any other failure.
@inline(__always)
func retryingOnInterrupt<Result: FixedWidthInteger>(
    _ call: String,
    path: String? = nil,
    _ body: () -> Result
) throws(LinuxError) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code != EINTR { throw LinuxError(errno: code, call: call, path: path) }
    }
}
