import ArgumentParser
import PinJSON
import PinleaseClient

/// `pinlease files inspect|prepare|lock|unlock|ls`.
struct FilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files", abstract: "Inspect, prepare, lock and unlock files under the daemon's roots.",
        subcommands: [Inspect.self, PrepareCommand.self, Lock.self, Unlock.self, List.self])

    /// Table columns of the tracked-file list.
    static let columns = [
        ("PATH", "path"), ("STATE", "state"), ("WRITERS", "writers"), ("IMMUTABLE", "immutable"),
        ("READ_LEASE", "read_lease"), ("PINS", "pins"), ("LOCKED_AT", "locked_at"),
    ]

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a file's layout report (ready or not, and why).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Path relative to a root: a.bin or ROOT:dir/a.bin.") var path: String

        func run() throws {
            let report = try global.client().call("POST", "/v1/files/inspect", body: ["path": .string(path)])
            global.printer.document(report, idKey: "path")
        }
    }

    struct Lock: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lock a ready file immutable (POST /v1/files/lock-immutable).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Path relative to a root.") var path: String
        @Option(help: "Who may write the locked file: none or daemon (needed for write pins).") var writers: String?

        func run() throws {
            var body: JSONObject = ["path": .string(path)]
            if let writers { body["writers"] = .string(writers) }
            let report = try global.client().call("POST", "/v1/files/lock-immutable", body: .object(body))
            global.printer.document(report, idKey: "path")
        }
    }

    struct Unlock: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unlock a locked file (409 while pins exist).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Path relative to a root.") var path: String
        @Flag(name: .customLong("if-locked"), help: "Succeed with a note when the file is not locked.") var ifLocked =
            false

        func run() throws {
            let client = try global.client()
            let response = try client.send("POST", "/v1/files/unlock", body: ["path": .string(path)])
            if !response.isSuccess {
                let error = response.error
                if ifLocked, error.problem?.code == "not-locked" {
                    Printer.note("\(path) is not locked; nothing to unlock")
                    return
                }
                throw error
            }
            global.printer.document(response.json ?? .null, idKey: "path")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List the files the daemon has locked.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions

        func run() throws {
            let document = try global.client().list("/v1/files", query: page.query)
            global.printer.list(document, idKey: "path", columns: FilesCommand.columns)
        }
    }
}

/// A byte size argument: digits go as an integer, anything else (`64MiB`) as the string the API parses.
func byteSizeJSON(_ text: String) -> JSON {
    if let number = Int64(text) { return .int(number) }
    return .string(text)
}
