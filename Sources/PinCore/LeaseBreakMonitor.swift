import LinuxFS
import Synchronization

/// Receives the kernel's lease-break signal (a real-time signal set with `F_SETSIG`, so it
/// cannot kill the daemon) and hands each broken descriptor to the daemon's recall.
final class LeaseBreakMonitor: Sendable {
    private let subscription = Mutex<LeaseBreakSubscription?>(nil)

    /// Installs the signal handler; breaks are queued (in its pipe) until ``run(onBreak:)``.
    static func install() throws(CoreError) {
        do {
            try LeaseBreakSignal.install()
        } catch {
            throw CoreError(.systemError, "cannot install the lease-break signal handler: \(error)")
        }
    }

    /// Calls `onBreak` with each broken descriptor, on the process's lease-break thread,
    /// until ``stop()``. Every monitor sees every break (there is one signal per process).
    func run(onBreak: @escaping @Sendable (Int32) -> Void) throws(CoreError) {
        do {
            let started = try LeaseBreakSignal.subscribe(onBreak)
            subscription.withLock { $0 = started }
        } catch {
            throw CoreError(.systemError, "cannot start the lease-break thread: \(error)")
        }
    }

    /// Ends the calls of ``run(onBreak:)``; one in progress may still finish.
    func stop() {
        subscription.withLock { $0.take() }?.cancel()
    }
}
