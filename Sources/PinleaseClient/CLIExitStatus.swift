/// The process exit codes of `pinlease`, which scripts branch on. The values are part of the
/// CLI's contract (README "## CLI", `pinlease --help`) and never change meaning.
public enum CLIExitStatus: Int32, Sendable, CaseIterable {
    case ok = 0
    /// Any failure not listed below (422 invalid input, 500, a failed operation...).
    case other = 1
    /// The command line itself is wrong (unknown flag, missing argument, bad address).
    case usage = 2
    /// 404: no such file, pin, lease, operation or route.
    case notFound = 3
    /// 409: not locked, writers present, pins exist, lease not active...
    case conflict = 4
    /// 401 or 403: no valid token, or a role that may not do this.
    case unauthorized = 5
    /// 507: no space on the filesystem or for the state, pin budget exceeded, mlock refused.
    case noSpace = 6
    /// The daemon could not be reached (connection refused, no socket, timeout).
    case unreachable = 7
    /// Interrupted by Ctrl-C (SIGINT), as a shell reports it: 128 + 2.
    case interrupted = 130

    /// The exit code for an HTTP error status.
    public static func forHTTPStatus(_ status: Int) -> CLIExitStatus {
        switch status {
        case 200..<300: .ok
        case 401, 403: .unauthorized
        case 404: .notFound
        case 409: .conflict
        case 507: .noSpace
        default: .other
        }
    }

    /// The exit code for a problem object, by its `status`, or by its `type` when `status` is
    /// absent (a failed operation's `error` may carry no status).
    public static func forProblem(_ problem: Problem) -> CLIExitStatus {
        if let status = problem.status { return forHTTPStatus(status) }
        switch problem.code {
        case "no-space", "state-full", "pin-budget-exceeded", "memory-lock-failed": return .noSpace
        case "unauthorized", "forbidden": return .unauthorized
        case "not-found", "operation-not-found", "pin-not-found", "lease-not-found", "delivery-not-found":
            return .notFound
        case "not-ready", "file-locked", "file-immutable", "writers-present", "not-locked", "file-changed", "busy",
            "read-only-filesystem", "cancelled", "lock-degraded", "pin-in-use", "pins-exist", "hard-linked",
            "lease-not-active", "pin-not-active":
            return .conflict
        default: return .other
        }
    }

    /// One line per code, for `pinlease --help` and the README.
    public static let summary = """
        Exit codes: 0 ok, 1 other error, 2 usage, 3 not found (404), 4 conflict (409: not locked, \
        writers present, pins exist...), 5 unauthorized or forbidden (401/403), 6 no space or pin \
        budget (507), 7 daemon unreachable, 130 interrupted (Ctrl-C).
        """
}
