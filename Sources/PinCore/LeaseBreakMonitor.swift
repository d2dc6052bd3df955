import LinuxFS
import ServiceLifecycle
import Synchronization

/// Receives the kernel's lease-break signal (a real-time signal set with `F_SETSIG`, so it
/// cannot kill the daemon) and hands each broken descriptor to the daemon's recall. A service:
/// it hears breaks from ``run()`` until graceful shutdown, cancellation or ``stop()``; breaks
/// signalled before stay queued in the handler's pipe.
final class LeaseBreakMonitor: Service {
    private struct State: ~Copyable {
        var subscription: LeaseBreakSubscription?
        var stopped = false
    }

    private let onBreak: @Sendable (Int32) -> Void
    private let state = Mutex(State())

    /// A monitor that calls `onBreak` with each broken descriptor, on the process's lease-break
    /// thread, while it runs.
    init(onBreak: @escaping @Sendable (Int32) -> Void) {
        self.onBreak = onBreak
    }

    /// Installs the signal handler; breaks are queued (in its pipe) until a monitor runs.
    static func install() throws(CoreError) {
        do {
            try LeaseBreakSignal.install()
        } catch {
            throw CoreError(.systemError, "cannot install the lease-break signal handler: \(error)")
        }
    }

    /// Hears breaks until graceful shutdown or cancellation; returns once no call is running
    /// and none will follow (the lease-break thread is joined when no monitor is left).
    func run() async throws {
        try start()
        await shutdownRequested()
        try await blocking("lease-break-end") { [self] in stop() }
    }

    /// Subscribes to the breaks unless stopped; without a service group (tests).
    func start() throws(CoreError) {
        try state.withLock { (state: inout State) throws(CoreError) in
            guard !state.stopped, state.subscription == nil else { return }
            do {
                state.subscription = try LeaseBreakSignal.subscribe(onBreak)
            } catch {
                throw CoreError(.systemError, "cannot start the lease-break thread: \(error)")
            }
        }
    }

    /// Ends the calls of `onBreak` (one in progress finishes first, unless this is called from it).
    func stop() {
        state.withLock { state -> LeaseBreakSubscription? in
            state.stopped = true
            return state.subscription.take()
        }?.cancel()
    }
}
