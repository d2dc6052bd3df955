import Foundation
import LinuxFS
import Logging

/// Receives the kernel's lease-break signal (a real-time signal set with `F_SETSIG`, so it
/// cannot kill the daemon) and hands each broken descriptor to the daemon's recall.
enum LeaseBreakMonitor {
    /// Installs the signal handler; breaks are queued (in its pipe) until ``run(onBreak:)``.
    static func install() throws(CoreError) {
        do {
            try LeaseBreakSignal.install()
        } catch {
            throw CoreError(.systemError, "cannot install the lease-break signal handler: \(error)")
        }
    }

    /// Calls `onBreak` with each broken descriptor, on a thread of its own, forever.
    static func run(onBreak: @escaping @Sendable (Int32) -> Void) {
        let thread = Thread {
            while true {
                let descriptor = LeaseBreakSignal.waitForBrokenDescriptor()
                guard descriptor >= 0 else { return }
                onBreak(descriptor)
            }
        }
        thread.name = "lease-break"
        thread.start()
    }
}
