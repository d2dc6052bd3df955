import ArgumentParser
import PinJSON
import PinleaseClient

/// `pinlease ops show|cancel|wait`.
struct OpsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops", abstract: "Asynchronous operations (prepare).",
        subcommands: [Show.self, Cancel.self, Wait.self])

    static func target(_ id: String) -> String { "/v1/operations/" + DaemonClient.percentEncoded(id) }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an operation's state and progress.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Operation id.") var id: String

        func run() throws {
            global.printer.document(try global.client().call("GET", OpsCommand.target(id)))
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask a running operation to stop (DELETE).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Operation id.") var id: String

        func run() throws {
            global.printer.document(try global.client().call("DELETE", OpsCommand.target(id)))
        }
    }

    struct Wait: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait until an operation finishes, showing progress; exits non-zero unless it succeeded.",
            discussion: "Ctrl-C stops waiting (exit 130); the operation keeps running.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Operation id.") var id: String
        @Flag(name: .customLong("no-progress"), help: "Do not report progress on stderr.") var noProgress = false

        func run() throws {
            Interrupts.block()
            let waiter = OperationWaiter(
                client: try global.client(), id: id, progress: ProgressStyle.choose(disabled: noProgress),
                cancelOnInterrupt: false)
            let final = try waiter.wait()
            global.printer.document(.object(final))
            try OperationWaiter.requireSucceeded(final)
        }
    }
}
