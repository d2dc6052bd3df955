import ArgumentParser
import Dispatch
import Foundation
import Logging
import PinCore
import PinServer

/// `pinleased`: the pinlease host daemon.
struct PinLeaseDaemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinleased",
        abstract: "Prepares, locks and pins files for long-term page pinning, with a REST control plane.")

    @Option(help: "Address to listen on (HOST:PORT). Default 127.0.0.1:8470.")
    var listen: String?
    @Option(help: "A root the daemon may act under: PATH or NAME=PATH (repeatable). Default ./var/data.")
    var root: [String] = []
    @Option(name: .customLong("state-dir"), help: "Directory of the state database and admin token. Default ./var/state.")
    var stateDir: String?
    @Option(help: "Also serve the API on this Unix socket.")
    var unix: String?
    @Option(help: "Tokens file (JSON); re-read on SIGHUP. Without it an admin token is created in the state dir.")
    var tokens: String?
    @Option(help: "Settings file (JSON); flags override it.")
    var config: String?
    @Option(name: .customLong("max-body-bytes"), help: "Largest accepted request body. Default 1048576.")
    var maxBodyBytes: Int?
    @Option(name: .customLong("connection-limit"), help: "Most concurrent connections. Default 256.")
    var connectionLimit: UInt32?
    @Option(name: .customLong("connection-timeout-s"), help: "Idle connection timeout in seconds. Default 30.")
    var connectionTimeoutS: UInt32?
    @Option(help: "HTTP worker threads. Default 4.")
    var threads: UInt32?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical. Default info.")
    var logLevel: String?
    @Option(name: .customLong("pin-budget-bytes"),
            help: "Most bytes pinned at once: bytes or a size such as 64GiB. Default half of RAM, capped by RLIMIT_MEMLOCK unless CAP_IPC_LOCK.")
    var pinBudgetBytes: String?
    @Option(name: .customLong("pin-max-count"), help: "Most pins at once. Default 4096, at most vm.max_map_count/8.")
    var pinMaxCount: Int?

    func settings() throws -> DaemonSettings {
        var settings = DaemonSettings()
        if let config { try settings.apply(configFile: config) }
        if let listen { settings.listen = listen }
        if !root.isEmpty { settings.roots = root }
        if let stateDir { settings.stateDirectory = stateDir }
        if let unix { settings.unixSocket = unix }
        if let tokens { settings.tokensFile = tokens }
        if let maxBodyBytes { settings.maxBodyBytes = maxBodyBytes }
        if let connectionLimit { settings.connectionLimit = connectionLimit }
        if let connectionTimeoutS { settings.connectionTimeoutSeconds = connectionTimeoutS }
        if let threads { settings.threads = threads }
        if let logLevel { settings.logLevel = logLevel }
        if let pinBudgetBytes { settings.pinBudgetBytes = try DaemonSettings.pinBudget(pinBudgetBytes, source: "--pin-budget-bytes") }
        if let pinMaxCount { settings.pinMaxCount = try DaemonSettings.positive(pinMaxCount, source: "--pin-max-count") }
        return settings
    }

    func run() throws {
        let settings = try settings()
        guard let level = Logger.Level(rawValue: settings.logLevel) else { throw ValidationError("unknown log level '\(settings.logLevel)'") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "pinleased")
        let (host, port) = try settings.listenAddress()
        var rootArguments = settings.roots
        if rootArguments.isEmpty {
            try FileManager.default.createDirectory(atPath: DaemonSettings.defaultRoot, withIntermediateDirectories: true)
            rootArguments = [DaemonSettings.defaultRoot]
        }
        try FileManager.default.createDirectory(
            atPath: settings.stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])

        do {
            let roots = try rootArguments.map { text throws(CoreError) in try RootSpec.parse(text) }
            let core = try PinCoreService(
                configuration: CoreConfiguration(
                    roots: roots, stateDirectory: settings.stateDirectory, pinBudgetBytes: settings.pinBudgetBytes,
                    maxPins: settings.pinMaxCount),
                logger: logger)
            let tokenStore = try TokenStore.load(tokensFile: settings.tokensFile, stateDirectory: settings.stateDirectory, logger: logger)
            let server = PinHTTPServer(
                configuration: ServerConfiguration(
                    listenHost: host, listenPort: port, unixSocketPath: settings.unixSocket, maxBodyBytes: settings.maxBodyBytes,
                    connectionLimit: settings.connectionLimit, connectionTimeoutSeconds: settings.connectionTimeoutSeconds,
                    threads: settings.threads),
                core: core, tokens: tokenStore, logger: logger)
            try server.start()
            for spec in roots { logger.info("root \(spec.name) = \(spec.path)") }
            SignalHandling.run(server: server, core: core, tokens: tokenStore, logger: logger)
        } catch let error as CoreError {
            throw StartupError(error.detail)
        }
    }
}
