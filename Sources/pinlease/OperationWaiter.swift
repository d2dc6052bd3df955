import PinJSON
import PinleaseClient

/// Polls `GET /v1/operations/{id}` until the operation finishes, reporting progress. On Ctrl-C
/// (SIGINT, blocked by the caller) it cancels the operation when asked to, waits for it to stop,
/// and throws exit status 130.
struct OperationWaiter {
    let client: DaemonClient
    let id: String
    let progress: ProgressStyle
    let cancelOnInterrupt: Bool

    /// The finished operation (state `succeeded`, `failed` or `cancelled`).
    func wait() throws(ClientError) -> JSONObject {
        let started = Terminal.monotonicSeconds()
        var lastLine = started
        var lastDone: Int64 = -1
        let target = "/v1/operations/" + DaemonClient.percentEncoded(id)
        while true {
            let operation = try fetch(target)
            let state = operation["state"]?.stringValue ?? "unknown"
            let done = Self.progressBytes(operation, "done_bytes")
            let report = ProgressReport(
                label: "\(operation["kind"]?.stringValue ?? "operation") \(operation["path"]?.stringValue ?? id)",
                done: done, total: Self.progressBytes(operation, "total_bytes"),
                elapsed: Terminal.monotonicSeconds() - started)
            let now = Terminal.monotonicSeconds()
            if state != "running" {
                progress.show(report, final: true)
                return operation
            }
            if progress == .bar || (done != lastDone && now - lastLine >= ProgressStyle.lineInterval) {
                progress.show(report, final: false)
                lastLine = now
                lastDone = done
            }
            if Interrupts.wait(seconds: progress.pollInterval) { try interrupted(target) }
        }
    }

    private func fetch(_ target: String) throws(ClientError) -> JSONObject {
        guard let object = try client.call("GET", target).objectValue else {
            throw ClientError(.other, "operation \(id): the answer is not a JSON object")
        }
        return object
    }

    /// Ctrl-C: cancel (when asked), wait until the operation stopped, and exit 130. A second
    /// Ctrl-C stops waiting.
    private func interrupted(_ target: String) throws(ClientError) -> Never {
        if progress == .bar { Console.err(raw: "\n") }
        guard cancelOnInterrupt else {
            throw ClientError(.interrupted, "interrupted; operation \(id) keeps running (pinlease ops cancel \(id))")
        }
        Console.err("cancelling operation \(id)")
        var operation = try client.call("DELETE", target).objectValue ?? [:]
        while operation["state"]?.stringValue == "running" {
            if Interrupts.wait(seconds: 0.2) { break }
            operation = try fetch(target)
        }
        let state = operation["state"]?.stringValue ?? "running"
        throw ClientError(.interrupted, "operation \(id) \(state == "running" ? "is being cancelled" : state)")
    }

    private static func progressBytes(_ operation: JSONObject, _ key: String) -> Int64 {
        operation["progress"]?.objectValue?[key]?.int64Value ?? 0
    }

    /// Throws the operation's error (with the exit code of its problem) unless it succeeded.
    static func requireSucceeded(_ operation: JSONObject) throws(ClientError) {
        let id = operation["id"]?.stringValue ?? "?"
        switch operation["state"]?.stringValue {
        case "succeeded":
            return
        case "failed":
            guard let error = operation["error"]?.objectValue else {
                throw ClientError(.other, "operation \(id) failed")
            }
            throw ClientError(problem: Problem(error))
        case let state:
            throw ClientError(.other, "operation \(id) \(state ?? "ended in an unknown state")")
        }
    }
}
