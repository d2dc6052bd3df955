/// A failure the CLI reports on stderr in one line, ending the process with `exitStatus`.
public struct ClientError: Error, Sendable, CustomStringConvertible {
    public let exitStatus: CLIExitStatus
    public let message: String
    /// The problem the daemon answered, if it did.
    public let problem: Problem?

    public init(_ exitStatus: CLIExitStatus, _ message: String, problem: Problem? = nil) {
        self.exitStatus = exitStatus
        self.message = message
        self.problem = problem
    }

    /// The error for a problem document: its one-line text and the exit code its status maps to.
    public init(problem: Problem) {
        self.init(CLIExitStatus.forProblem(problem), problem.oneLine, problem: problem)
    }

    public var description: String { message }
}
