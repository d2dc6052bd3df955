import ArgumentParser
import PinJSON
import PinleaseClient

/// `pinlease files prepare`: runs the prepare as an operation, shows its progress, and cancels
/// it (DELETE) on Ctrl-C, exiting 130.
struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Make a file ready to pin (every block written), showing progress; Ctrl-C cancels it.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Path relative to a root.") var path: String
    @Option(help: "Size to give the file (bytes or 64MiB, 1GiB...); required with --create.") var size: String?
    @Option(help: "fill (keep every byte that held data) or wipe (zero every byte).") var mode: String?
    @Flag(help: "Create the file when it does not exist.") var create = false
    @Flag(name: .customLong("no-progress"), help: "Do not report progress on stderr.") var noProgress = false
    @Flag(help: "Start the operation and print it without waiting (then: pinlease ops wait ID).") var detach = false

    func run() throws {
        let client = try global.client()
        var body: JSONObject = ["path": .string(path), "async": true]
        if let size { body["size"] = byteSizeJSON(size) }
        if let mode { body["mode"] = .string(mode) }
        if create { body["create"] = true }
        // Ctrl-C from here on is taken by the waiter (as a cancel), not by the default action.
        if !detach { Interrupts.block() }
        let response = try client.send("POST", "/v1/files/prepare", body: .object(body))
        guard response.isSuccess else { throw response.error }
        guard let document = response.json?.objectValue else {
            throw ClientError(.other, "the prepare answer is not a JSON object")
        }
        guard response.status == 202, let id = document["id"]?.stringValue else {
            return global.printer.document(.object(document), idKey: "path")  // answered at once
        }
        if detach { return global.printer.document(.object(document)) }
        let progress = ProgressStyle.choose(disabled: noProgress)
        progress.started("prepare \(document["path"]?.stringValue ?? path): operation \(id) started")
        let waiter = OperationWaiter(client: client, id: id, progress: progress, cancelOnInterrupt: true)
        let final = try waiter.wait()
        try OperationWaiter.requireSucceeded(final)
        global.printer.document(final["result"] ?? .object(final), idKey: "path")
    }
}
