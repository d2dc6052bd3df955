import ArgumentParser
import Dispatch
import Foundation
import Logging
import PinAssembly
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
    @Option(help: "Also serve the API on this Unix socket, and hand lease holders descriptors on PATH.fd.")
    var unix: String?
    @Option(help: "Tokens file (JSON); re-read on SIGHUP. Without it an admin token is created in the state dir.")
    var tokens: String?
    @Option(help: "Settings file (JSON); flags override it.")
    var config: String?
    @Option(name: .customLong("max-body-bytes"), help: "Largest accepted request body. Default 1048576.")
    var maxBodyBytes: Int?
    @Option(name: .customLong("connection-limit"),
            help: "Most concurrent connections per listener. Default: from the descriptor limit (raised to the hard limit), up to 10000 on TCP.")
    var connectionLimit: UInt32?
    @Option(name: .customLong("connection-timeout-s"), help: "Idle connection timeout in seconds. Default 30.")
    var connectionTimeoutS: UInt32?
    @Option(name: .customLong("request-receive-timeout-s"),
            help: "A request (line, headers, body) must arrive within this many seconds; slower connections are closed. Default 10.")
    var requestReceiveTimeoutS: Double?
    @Option(help: "HTTP worker threads. Default 4.")
    var threads: UInt32?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical. Default info.")
    var logLevel: String?
    @Option(name: .customLong("pin-budget-bytes"),
            help: "Most bytes pinned at once: bytes or a size such as 64GiB. Default half of RAM, capped by RLIMIT_MEMLOCK unless CAP_IPC_LOCK.")
    var pinBudgetBytes: String?
    @Option(name: .customLong("pin-max-count"), help: "Most pins at once. Default 4096, at most vm.max_map_count/8.")
    var pinMaxCount: Int?
    @Option(name: .customLong("webhook-allow"),
            help: "A URL prefix webhook targets may start with (repeatable). Loopback and link-local targets need a prefix that names them.")
    var webhookAllow: [String] = []
    @Option(name: .customLong("webhook-timeout-s"), help: "Timeout of one webhook attempt in seconds. Default 5.")
    var webhookTimeoutS: Int?
    @Option(name: .customLong("webhook-max-per-origin"),
            help: "Most webhook requests in flight to one origin (scheme, host, port); origins take turns. Default 8.")
    var webhookMaxPerOrigin: Int?
    @Option(name: .customLong("webhook-retry-schedule-s"),
            help: """
                Delays in seconds before each attempt of a final notice (lease.revoked, lease.released, file.violation). \
                Default 0,5,300,1800,7200,18000,36000,36000.
                """)
    var webhookRetryScheduleS: String?
    @Option(name: .customLong("drain-delivery-timeout-s"),
            help: "With --drain, how long to wait for the last webhooks after the leases ended. Default 30.")
    var drainDeliveryTimeoutS: Int?
    @Option(name: .customLong("audit-interval-ms"), help: "How often every locked file is audited. Default 1000.")
    var auditIntervalMs: Int?
    @Option(name: .customLong("ttl-min-s"), help: "Shortest lease TTL. Default 1.")
    var ttlMinS: Int?
    @Option(name: .customLong("ttl-max-s"), help: "Longest lease TTL. Default 86400.")
    var ttlMaxS: Int?
    @Option(name: .customLong("ttl-default-s"), help: "TTL of a lease granted without ttl_s. Default 60.")
    var ttlDefaultS: Int?
    @Option(name: .customLong("grace-default-s"), help: "Grace period of a revocation without grace_s. Default 30.")
    var graceDefaultS: Int?
    @Option(name: .customLong("grace-max-s"), help: "Longest grace period. Default 3600.")
    var graceMaxS: Int?
    @Option(name: .customLong("events-kept"),
            help: "Events kept for GET /v1/events?since= (older ones get 410 events-expired). Default 100000.")
    var eventsKept: UInt64?
    @Flag(help: "On SIGTERM or SIGINT, revoke every lease and wait for the holders (or the deadlines) before stopping.")
    var drain = false

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
        if let requestReceiveTimeoutS {
            settings.requestReceiveTimeoutSeconds = try DaemonSettings.receiveTimeout(requestReceiveTimeoutS, source: "--request-receive-timeout-s")
        }
        if let threads { settings.threads = threads }
        if let logLevel { settings.logLevel = logLevel }
        if let pinBudgetBytes { settings.pinBudgetBytes = try DaemonSettings.pinBudget(pinBudgetBytes, source: "--pin-budget-bytes") }
        if let pinMaxCount { settings.pinMaxCount = try DaemonSettings.positive(pinMaxCount, source: "--pin-max-count") }
        if !webhookAllow.isEmpty { settings.webhookAllow = webhookAllow }
        if let webhookTimeoutS { settings.webhookTimeoutSeconds = try DaemonSettings.positive(webhookTimeoutS, source: "--webhook-timeout-s") }
        if let webhookMaxPerOrigin {
            settings.webhookMaxPerOrigin = try DaemonSettings.positive(webhookMaxPerOrigin, source: "--webhook-max-per-origin")
        }
        if let webhookRetryScheduleS {
            settings.webhookRetrySchedule = try DaemonSettings.retrySchedule(webhookRetryScheduleS, source: "--webhook-retry-schedule-s")
        }
        if let drainDeliveryTimeoutS {
            settings.drainDeliveryTimeoutSeconds = try DaemonSettings.positive(drainDeliveryTimeoutS, source: "--drain-delivery-timeout-s")
        }
        if let auditIntervalMs { settings.auditIntervalMilliseconds = try DaemonSettings.positive(auditIntervalMs, source: "--audit-interval-ms") }
        if let ttlMinS { settings.leasePolicy.ttlMinSeconds = ttlMinS }
        if let ttlMaxS { settings.leasePolicy.ttlMaxSeconds = ttlMaxS }
        if let ttlDefaultS { settings.leasePolicy.ttlDefaultSeconds = ttlDefaultS }
        if let graceDefaultS { settings.leasePolicy.graceDefaultSeconds = graceDefaultS }
        if let graceMaxS { settings.leasePolicy.graceMaxSeconds = graceMaxS }
        if let eventsKept { settings.leasePolicy.eventsKept = try DaemonSettings.positive(eventsKept, source: "--events-kept") }
        return settings
    }

    func run() throws {
        let settings = try settings()
        guard let level = Logger.Level(rawValue: settings.logLevel) else { throw ValidationError("unknown log level '\(settings.logLevel)'") }
        // Every message and metadata value is escaped, so request text can never forge a log line.
        LoggingSystem.bootstrap { label in
            var handler = EscapingLogHandler(StreamLogHandler.standardError(label: label))
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
        // Before any state is read: a second daemon on the same state would re-take its locks and pins.
        let stateLock = try StateDirectoryLock(stateDirectory: settings.stateDirectory)
        try stateLock.hold { try serve(settings: settings, rootArguments: rootArguments, host: host, port: port, logger: logger) }
    }

    /// Opens the core and serves until a signal stops the daemon (never returns normally).
    private func serve(settings: DaemonSettings, rootArguments: [String], host: String, port: UInt16, logger: Logger) throws {
        do {
            let roots = try rootArguments.map { text throws(CoreError) in try RootSpec.parse(text) }
            var configuration = CoreConfiguration(
                roots: roots, stateDirectory: settings.stateDirectory, pinBudgetBytes: settings.pinBudgetBytes, maxPins: settings.pinMaxCount)
            configuration.leasePolicy = settings.leasePolicy
            configuration.webhookAllow = settings.webhookAllow
            configuration.webhookTimeoutSeconds = Double(settings.webhookTimeoutSeconds)
            configuration.webhookMaxTransfersPerOrigin = settings.webhookMaxPerOrigin
            configuration.webhookRetrySchedule = settings.webhookRetrySchedule
            configuration.auditIntervalMilliseconds = settings.auditIntervalMilliseconds
            let core = try PinCoreService(configuration: configuration, logger: logger)
            let tokenStore = try TokenStore.load(tokensFile: settings.tokensFile, stateDirectory: settings.stateDirectory, logger: logger)
            let server = PinHTTPServer(
                configuration: ServerConfiguration(
                    listenHost: host, listenPort: port, unixSocketPath: settings.unixSocket, maxBodyBytes: settings.maxBodyBytes,
                    connectionLimit: settings.connectionLimit, connectionTimeoutSeconds: settings.connectionTimeoutSeconds,
                    requestReceiveTimeoutSeconds: settings.requestReceiveTimeoutSeconds, threads: settings.threads),
                core: core, tokens: tokenStore, logger: logger)
            try server.start()
            // Beside the API socket, holders fetch descriptors of their leased files on PATH.fd.
            let handoff = settings.unixSocket.map { path in
                DescriptorHandoffListener(path: path + ".fd", tokens: tokenStore, logger: logger) { request throws(CoreError) in
                    try core.handOffDescriptor(request)
                }
            }
            do {
                try handoff?.start()
            } catch {
                server.stop()
                throw error
            }
            for spec in roots { logger.info("root \(spec.name) = \(spec.path)") }
            SignalHandling.run(server: server, handoff: handoff, core: core, tokens: tokenStore, drain: drain,
                drainDeliveryTimeout: .seconds(settings.drainDeliveryTimeoutSeconds), logger: logger)
        } catch let error as CoreError {
            throw StartupError(error.detail)
        }
    }
}
