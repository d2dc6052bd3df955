import ArgumentParser
import Foundation
import LinuxFS
import Logging
import PinAssembly
import PinBuildInfo
import PinCore
import PinServer
import PinSettings
import ServiceLifecycle

/// `pinleased`: the pinlease host daemon (the entry point).
@main
struct PinLeaseDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinleased",
        abstract: "Prepares, locks and pins files for long-term page pinning, with a REST control plane.",
        discussion: SettingsDocumentation.precedence,
        version: BuildInfo.summary)

    /// Every setting, from ``SettingsTable``.
    @OptionGroup var options: DaemonOptions

    func run() async throws {
        // Before any thread allocates much: large blocks (a page of 10,000 leases, the lease
        // dictionary) get their own mappings, unmapped when freed (issue 12, bench/README.md "Soak").
        Allocator.mapLargeBlocksApart()
        let settings = try options.resolve()
        // Every message and metadata value is escaped (text) or encoded (json), so request text
        // can never forge a log line.
        LoggingSystem.bootstrap { label in settings.logFormat.handler(label: label, level: settings.logLevel) }
        let logger = Logger(label: "pinleased")
        for root in settings.rootsToCreate {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        try FileManager.default.createDirectory(
            atPath: settings.core.stateDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        // Before any state is read: a second daemon on the same state would re-take its locks and pins.
        let stateLock = try StateDirectoryLock(stateDirectory: settings.core.stateDirectory)
        try await stateLock.hold { try await serve(settings: settings, logger: logger) }
    }

    /// Opens the core and serves until SIGTERM or SIGINT stops the daemon. Its services run in
    /// one group: started in the order (watchdog), signals, core, HTTP server, hand-off, drain
    /// phase, stopping notice, and stopped in the reverse order (see ``drainPhase(_:_:_:)``).
    private func serve(settings: DaemonSettings, logger: Logger) async throws {
        logger.info("pinleased \(BuildInfo.summary)")
        do {
            // One exporter (its own registry) passed to the core, the store and the server;
            // the global MetricsSystem is left alone.
            let exporter = PrometheusExporter(
                descriptions: PrometheusExporter.domainDescriptions + ServerMetrics.descriptions,
                version: BuildInfo.version, commit: BuildInfo.commit)
            let core = try PinCoreService(configuration: settings.core, logger: logger, metrics: exporter.factory)
            let tokenStore = try TokenStore.load(
                tokensFile: settings.tokensFile, stateDirectory: settings.core.stateDirectory, logger: logger)
            let server = PinHTTPServer(
                configuration: settings.server, core: core, tokens: tokenStore, logger: logger,
                metrics: ServerMetrics(factory: exporter.factory, exposition: exporter.exposition))
            // Beside the API socket, holders fetch descriptors of their leased files on PATH.fd.
            let handoff = settings.server.unixSocketPath.map { path in
                DescriptorHandoffListener(path: path + ".fd", tokens: tokenStore, logger: logger) {
                    request throws(CoreError) in
                    try core.handOffDescriptor(request)
                }
            }
            for spec in settings.core.roots { logger.info("root \(spec.name) = \(spec.path)") }
            let link = ServiceManagerLink(logger: logger)
            let signals = await DaemonSignals(tokens: tokenStore, link: link, logger: logger)
            // READY=1 once the core recovered (it did, in its init) and every socket accepts connections.
            let listeners = ReportingListener.listeners(server: server, handoff: handoff, link: link)
            let watchdog = ServiceManagerWatchdog.petIntervalFromEnvironment().map {
                [ServiceManagerWatchdogService(link: link, interval: $0)] as [any Service]
            }
            let services: [any Service] =
                (watchdog ?? []) + [signals, core] + listeners + drainPhase(core, settings, link)
                + [ServiceManagerStoppingNotice(link: link, status: "stopping")]
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger))
            signals.stops(group)
            try await group.run()
            logger.info("stopped")
        } catch let error as CoreError {
            throw StartupError(error.detail)
        }
    }

    /// With `--drain`, the first phase of the shutdown: every lease is revoked and the daemon waits
    /// for the holders (or the deadlines) and, bounded, for the last webhooks, while the API (`/readyz`
    /// 503 `draining`), the descriptor hand-off and the core's background work still run. Then the
    /// hand-off stops, then the HTTP server, then the core's background work, then the signals.
    /// Locks, pins and leases stay: they are durable.
    private func drainPhase(_ core: PinCoreService, _ settings: DaemonSettings, _ link: ServiceManagerLink)
        -> [any Service]
    {
        guard settings.drain else { return [] }
        let timeout = Duration.seconds(settings.drainDeliveryTimeoutSeconds)
        return [
            ShutdownPhase(name: "drain") {
                let leases = core.status().leasesByState
                link.status("draining: \((leases[.active] ?? 0) + (leases[.revoking] ?? 0)) leases")
                core.drain(deliveryTimeout: timeout)
                link.status("stopping")
            }
        ]
    }
}
