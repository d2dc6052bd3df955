import ArgumentParser
import PinleaseClient

/// Runs the command line and maps every outcome to the documented exit codes: argument
/// errors are 2 (not argument-parser's 64), client errors print one line on stderr.
enum PinleaseEntry {
    static func run() -> Never {
        do {
            var command = try Pinlease.parseAsRoot(GlobalOptions.movedToLeaf(Array(CommandLine.arguments.dropFirst())))
            try command.run()
            Terminal.exitProcess(CLIExitStatus.ok.rawValue)
        } catch let error as ClientError {
            if !error.message.isEmpty { Console.err(error.message) }
            Terminal.exitProcess(error.exitStatus.rawValue)
        } catch {
            let code = Pinlease.exitCode(for: error)
            let message = Pinlease.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { Console.out(message) }
                Terminal.exitProcess(0)
            }
            if !message.isEmpty { Console.err(message) }
            Terminal.exitProcess(code == .validationFailure ? CLIExitStatus.usage.rawValue : code.rawValue)
        }
    }
}

/// The root command: nouns first, mirroring the REST API.
struct Pinlease: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinlease",
        abstract: "Drive a pinleased daemon through its REST API: files, pins, leases, operations, events.",
        discussion: """
            Address: --addr or PINLEASE_ADDR, http://HOST:PORT or unix:/path (the daemon's --unix socket); \
            default http://127.0.0.1:8470.
            Token: --token, --token-file, PINLEASE_TOKEN or PINLEASE_TOKEN_FILE; default the local daemon's \
            admin token (\(Credentials.defaultAdminTokenFile)) when it is readable. Tokens are never printed.
            Output: -o table (default on a terminal), -o json (the API's JSON document; the default when \
            stdout is not a terminal; one object per line for events), -o id (ids only, one per line).

            \(CLIExitStatus.summary)
            """,
        version: ClientVersion.summary,
        subcommands: [
            FilesCommand.self, PinsCommand.self, LeasesCommand.self, OpsCommand.self, EventsCommand.self,
            StatusCommand.self, VersionCommand.self,
        ]
    )
}
