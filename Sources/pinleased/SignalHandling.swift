import Dispatch
import Glibc  // signal(2) dispositions, signal numbers for the dispatch sources, exit(3) of the executable
import Logging
import PinCore
import PinServer

/// SIGTERM and SIGINT stop the daemon gracefully: with `drain` every lease is revoked first
/// and the daemon waits for the holders (or the deadlines) and, bounded, for the last webhooks; then the descriptor hand-off stops
/// while the core still serves it, then the core and the HTTP server. Locks, pins and leases
/// stay: they are durable. SIGHUP re-reads the tokens file. Never returns.
enum SignalHandling {
    static func run(
        server: PinHTTPServer, handoff: DescriptorHandoffListener?, core: PinCoreService, tokens: TokenStore, drain: Bool,
        drainDeliveryTimeout: Duration, logger: Logger
    ) -> Never {
        signal(SIGPIPE, SIG_IGN)
        let queue = DispatchQueue(label: "signals")
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                logger.info("signal \(number): stopping")
                if drain { core.drain(deliveryTimeout: drainDeliveryTimeout) }
                handoff?.stop()
                core.shutdown()
                server.stop()
                logger.info("stopped")
                exit(0)
            }
            source.resume()
            sources.append(source)
        }
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        hangup.setEventHandler {
            do {
                try tokens.reload()
                logger.info("SIGHUP: tokens reloaded")
            } catch {
                logger.error("SIGHUP: tokens not reloaded, the previous set stays: \(error)")
            }
        }
        hangup.resume()
        sources.append(hangup)
        withExtendedLifetime(sources) { dispatchMain() }
    }
}
