import ArgumentParser
import PinJSON
import PinleaseClient

/// How results are printed.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json, id
}

/// The page size of list commands; every page is fetched whatever it is.
struct PageOptions: ParsableArguments {
    @Option(name: .customLong("page-size"), help: "Items per request (the `limit`); all pages are fetched.")
    var pageSize: Int?

    /// The `limit` query argument, when one was given.
    var query: [(String, String)] { pageSize.map { [("limit", String($0))] } ?? [] }
}

/// The options every command takes: where the daemon is, the token, the output format.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("addr"), help: "Daemon address: http://HOST:PORT or unix:/path (env PINLEASE_ADDR).")
    var address: String?

    @Option(help: "Bearer token (env PINLEASE_TOKEN; prefer --token-file: arguments are visible in ps).")
    var token: String?

    @Option(name: .customLong("token-file"), help: "File holding the bearer token (env PINLEASE_TOKEN_FILE).")
    var tokenFile: String?

    @Option(
        name: [.customShort("o"), .customLong("output")],
        help: "table, json or id (default: table on a terminal, else json).")
    var output: OutputFormat?

    @Flag(
        name: [.customShort("v"), .customLong("verbose")], help: "Print each request (method, URL, status) on stderr.")
    var verbose = false

    var environment: [String: String] {
        var values: [String: String] = [:]
        for name in ["PINLEASE_ADDR", "PINLEASE_TOKEN", "PINLEASE_TOKEN_FILE"] {
            if let value = Terminal.environment(name) { values[name] = value }
        }
        return values
    }

    /// The client for the address and token these options (and the environment) name.
    func client() throws(ClientError) -> DaemonClient {
        let environment = environment
        let text = address ?? environment["PINLEASE_ADDR"].flatMap { $0.isEmpty ? nil : $0 }
        let address = try text.map { text throws(ClientError) in try DaemonAddress.parse(text) } ?? .localDefault
        let token = try Credentials.resolve(token: token, tokenFile: tokenFile, environment: environment)
        let client = DaemonClient(address: address, token: token)
        if verbose { client.trace = { line in Console.err("> " + line) } }
        return client
    }

    /// The arguments with the global options given before the subcommand (`pinlease --addr X
    /// pins ls`) moved after it, where the leaf command that declares them parses them.
    static func movedToLeaf(_ arguments: [String]) -> [String] {
        let valued: Set<String> = ["--addr", "--token", "--token-file", "-o", "--output"]
        let flags: Set<String> = ["-v", "--verbose"]
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            if flags.contains(argument) {
                leading.append(argument)
                index += 1
            } else if valued.contains(argument), index + 1 < arguments.count {
                leading += [argument, arguments[index + 1]]
                index += 2
            } else if argument.contains("="), valued.contains(name) {
                leading.append(argument)
                index += 1
            } else {
                break
            }
        }
        guard !leading.isEmpty, index < arguments.count else { return arguments }
        let rest = Array(arguments[index...])
        // Options after a `--` would be taken as positional arguments: put them before it.
        if let end = rest.firstIndex(of: "--") { return Array(rest[..<end]) + leading + Array(rest[end...]) }
        return rest + leading
    }

    var format: OutputFormat { output ?? (Terminal.stdoutIsTerminal ? .table : .json) }

    /// The printer for this command's results.
    var printer: Printer { Printer(format: format) }
}
