import ArgumentParser
import Dispatch
import Foundation
import Logging
import PinCore
import PinServer
import PinSettings

/// `pinleased`: the pinlease host daemon.
struct PinLeaseDaemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinleased",
        abstract: "Prepares, locks and pins files for long-term page pinning, with a REST control plane.",
        discussion: SettingsDocumentation.precedence)

    /// Every setting, from ``SettingsTable``.
    @OptionGroup var options: DaemonOptions

    func run() throws {
        let settings = try options.resolve()
        // Every message and metadata value is escaped, so request text can never forge a log line.
        LoggingSystem.bootstrap { label in
            var handler = EscapingLogHandler(StreamLogHandler.standardError(label: label))
            handler.logLevel = settings.logLevel
            return handler
        }
        let logger = Logger(label: "pinleased")
        for root in settings.rootsToCreate {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        try FileManager.default.createDirectory(
            atPath: settings.core.stateDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        // Before any state is read: a second daemon on the same state would re-take its locks and pins.
        let stateLock = try StateDirectoryLock(stateDirectory: settings.core.stateDirectory)
        try stateLock.hold { try serve(settings: settings, logger: logger) }
    }

    /// Opens the core and serves until a signal stops the daemon (never returns normally).
    private func serve(settings: DaemonSettings, logger: Logger) throws {
        do {
            let core = try PinCoreService(configuration: settings.core, logger: logger)
            let tokenStore = try TokenStore.load(
                tokensFile: settings.tokensFile, stateDirectory: settings.core.stateDirectory, logger: logger)
            let server = PinHTTPServer(configuration: settings.server, core: core, tokens: tokenStore, logger: logger)
            try server.start()
            // Beside the API socket, holders fetch descriptors of their leased files on PATH.fd.
            let handoff = settings.server.unixSocketPath.map { path in
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
            for spec in settings.core.roots { logger.info("root \(spec.name) = \(spec.path)") }
            SignalHandling.run(server: server, handoff: handoff, core: core, tokens: tokenStore, drain: settings.drain,
                drainDeliveryTimeout: .seconds(settings.drainDeliveryTimeoutSeconds), logger: logger)
        } catch let error as CoreError {
            throw StartupError(error.detail)
        }
    }
}
