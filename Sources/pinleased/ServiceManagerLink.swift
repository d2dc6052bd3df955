import LinuxFS
import Logging
import ServiceLifecycle
import Synchronization

/// What the daemon tells systemd (`Type=notify`) through `$NOTIFY_SOCKET`: `READY=1` once it
/// serves, `RELOADING=1` and `READY=1` around a SIGHUP reload, `STOPPING=1` when the shutdown
/// starts, `STATUS=` lines, and `WATCHDOG=1` (``ServiceManagerWatchdogService``). Without
/// `$NOTIFY_SOCKET` nothing is sent. A failed send is logged (a warning the first time, then
/// at debug level) and never stops the daemon.
final class ServiceManagerLink: Sendable {
    private let socket: ServiceManagerSocket?
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var stopping = false
        var warned = false
    }

    /// The link for this process's environment; an unusable `$NOTIFY_SOCKET` is logged and ignored.
    init(logger: Logger) {
        self.logger = logger
        do {
            socket = try ServiceManagerSocket.fromEnvironment()
        } catch {
            logger.warning("NOTIFY_SOCKET ignored: \(error)")
            socket = nil
        }
        if let socket { logger.debug("service manager notifications go to \(socket.text)") }
    }

    /// `READY=1`, with the addresses served.
    func ready(serving addresses: [String]) {
        send([.ready, .status("serving on " + addresses.joined(separator: ", "))])
    }

    /// `RELOADING=1` before a SIGHUP reload; then call ``reloaded(_:)``. Nothing once stopping.
    func reloading() {
        guard !isStopping else { return }
        send([.reloadingNow(), .status("reloading the tokens file")])
    }

    /// `READY=1` after a reload, with its outcome. Nothing once stopping.
    func reloaded(_ outcome: String) {
        guard !isStopping else { return }
        send([.ready, .status(outcome)])
    }

    /// `STOPPING=1` with what the shutdown does first; only the first call sends.
    func stopping(_ status: String) {
        let first = state.withLock { state in
            defer { state.stopping = true }
            return !state.stopping
        }
        if first { send([.stopping, .status(status)]) }
    }

    /// A `STATUS=` line alone.
    func status(_ text: String) {
        send([.status(text)])
    }

    /// `WATCHDOG=1`.
    func petWatchdog() {
        send([.watchdog])
    }

    private var isStopping: Bool {
        state.withLock { $0.stopping }
    }

    private func send(_ notices: [ServiceManagerNotice]) {
        guard let socket else { return }
        do {
            try socket.send(notices)
        } catch {
            let firstFailure = state.withLock { state in
                defer { state.warned = true }
                return !state.warned
            }
            let message: Logger.Message = "cannot notify the service manager: \(error)"
            if firstFailure { logger.warning(message) } else { logger.debug(message) }
        }
    }
}

/// Sends `WATCHDOG=1` every half `$WATCHDOG_USEC` from the start of the group until the end of
/// its shutdown: the first service of the group, so it is told to stop last (a long drain is
/// still petted).
///
/// The pets do not depend on the daemon's health: systemd's watchdog only detects a process
/// that died, was stopped, or whose Swift concurrency pool is starved (the pet loop runs there).
/// A wedged HTTP engine or core loop is not detected: an in-process liveness check could not
/// be made to never skip a pet under CPU pressure (WatchdogSec=30s), and a false alarm
/// restarts the daemon, which revokes nothing but drops every event stream and pending request.
struct ServiceManagerWatchdogService: Service, CustomStringConvertible {
    let link: ServiceManagerLink
    let interval: Duration

    var description: String { "ServiceManagerWatchdog(every \(interval))" }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                link.petWatchdog()
                try await Task.sleep(for: interval)
            }
        }
    }
}

/// The last service of the group, so the first told of a graceful shutdown (whatever started
/// it): sends `STOPPING=1` then, before any shutdown phase runs.
struct ServiceManagerStoppingNotice: Service, CustomStringConvertible {
    let link: ServiceManagerLink
    let status: String

    var description: String { "ServiceManagerStoppingNotice" }

    func run() async {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is failing, not shutting down
        }
        link.stopping(status)
    }
}
