import ArgumentParser
import PinJSON
import PinleaseClient

/// Options that describe a range to pin (for `pins create` and `leases grant PATH`).
struct PinRangeOptions: ParsableArguments {
    @Option(help: "Start of the range (a multiple of the page size); default 0.") var offset: Int64?
    @Option(help: "Bytes to pin (bytes or 64MiB...); default to the end of the file.") var length: String?
    @Option(help: "read or write.") var access: String = "read"
    @Option(help: "Long-term pin: false, true or if-possible.") var longterm: String?

    /// The members of a pin request (without `path`).
    func members() throws(ClientError) -> JSONObject {
        var body: JSONObject = ["access": .string(access)]
        if let offset { body["offset"] = .int(offset) }
        if let length { body["length"] = byteSizeJSON(length) }
        switch longterm {
        case nil: break
        case "true"?: body["longterm"] = true
        case "false"?: body["longterm"] = false
        case "if-possible"?: body["longterm"] = "if-possible"
        case let other?: throw ClientError(.usage, "--longterm must be false, true or if-possible, not \(other)")
        }
        return body
    }
}

/// `pinlease pins create|ls|show|rm`.
struct PinsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pins", abstract: "Map, fault in and lock ranges of locked files.",
        subcommands: [Create.self, List.self, Show.self, Remove.self])

    static func target(_ id: String) -> String { "/v1/pins/" + DaemonClient.percentEncoded(id) }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pin a range of a locked, ready file (POST /v1/pins).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Path relative to a root.") var path: String
        @OptionGroup var range: PinRangeOptions

        func run() throws {
            var body = try range.members()
            body["path"] = .string(path)
            global.printer.document(try global.client().call("POST", "/v1/pins", body: .object(body)))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List pins and the pin budget in use.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions

        func run() throws {
            let document = try global.client().list("/v1/pins", query: page.query)
            let columns = [
                ("ID", "id"), ("PATH", "path"), ("OFFSET", "offset"), ("LENGTH", "length"), ("ACCESS", "access"),
                ("STATE", "state"), ("RESIDENT", "resident_bytes"), ("LONGTERM", "longterm.held"), ("LEASES", "leases"),
            ]
            global.printer.list(
                document, columns: columns, footer: document["budget"]?.objectValue.map(PinsCommand.budgetLine))
        }
    }

    /// `budget: 4.0 MiB of 1.0 GiB pinned, 1 of 1024 pins`
    static func budgetLine(_ budget: JSONObject) -> String {
        let pinned = HumanUnits.bytes(budget["pinned_bytes"]?.int64Value ?? 0)
        let limit = HumanUnits.bytes(budget["budget_bytes"]?.int64Value ?? 0)
        let pins = budget["pins"]?.int64Value ?? 0
        let most = budget["max_pins"]?.int64Value ?? 0
        return "budget: \(pinned) of \(limit) pinned, \(pins) of \(most) pins"
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one pin.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Pin id.") var id: String

        func run() throws {
            global.printer.document(try global.client().call("GET", PinsCommand.target(id)))
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Delete a pin (409 while leases use it).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Pin id.") var id: String

        func run() throws {
            _ = try global.client().call("DELETE", PinsCommand.target(id))
            switch global.format {
            case .id: global.printer.emit(id)
            case .table: global.printer.emit("pin \(id) removed")
            case .json: break  // 204: the API answers no document
            }
        }
    }
}
