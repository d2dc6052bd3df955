import Glibc  // signal(2) dispositions for SIGPIPE and the trapped signals
import Logging
import PinServer
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The daemon's signals, as the first service of its group (so it stops last and SIGHUP is
/// still heard during a drain). SIGTERM and SIGINT start the group's graceful shutdown, logged
/// as `signal N: stopping` before any shutdown phase runs; later ones are ignored, as is
/// SIGPIPE. SIGHUP re-reads the tokens file, told to the service manager as a reload.
///
/// The signals are trapped when this is made (before the group runs), so one that arrives while
/// the services start is acted on once they run.
final class DaemonSignals: Service {
    private let signals: UnixSignalsSequence
    private let tokens: TokenStore
    private let link: ServiceManagerLink
    private let logger: Logger
    private let group = Mutex<ServiceGroup?>(nil)

    init(tokens: TokenStore, link: ServiceManagerLink, logger: Logger) async {
        signal(SIGPIPE, SIG_IGN)
        // A signal source receives them; their default actions (ending the process) must not.
        for number in [SIGTERM, SIGINT, SIGHUP] { signal(number, SIG_IGN) }
        signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        self.tokens = tokens
        self.link = link
        self.logger = logger
    }

    /// The group whose graceful shutdown SIGTERM and SIGINT trigger.
    func stops(_ group: ServiceGroup) {
        self.group.withLock { $0 = group }
    }

    func run() async {
        var stopping = false
        for await received in signals.cancelOnGracefulShutdown() {
            if received == .sighup {
                reloadTokens()
            } else if !stopping {
                stopping = true
                logger.info("signal \(received.rawValue): stopping")
                await group.withLock({ $0 })?.triggerGracefulShutdown()
            }
        }
    }

    /// Told to the service manager as a reload (`RELOADING=1`, then `READY=1`), as `ExecReload=` expects.
    private func reloadTokens() {
        link.reloading()
        do {
            try tokens.reload()
            logger.info("SIGHUP: tokens reloaded")
            link.reloaded("serving; SIGHUP: tokens reloaded")
        } catch {
            logger.error("SIGHUP: tokens not reloaded, the previous set stays: \(error)")
            link.reloaded("serving; SIGHUP: tokens not reloaded, the previous set stays (see the log)")
        }
    }
}
