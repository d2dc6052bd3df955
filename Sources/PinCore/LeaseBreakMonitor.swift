import Foundation
import LinuxFS
import Logging

/// Receives the kernel's lease-break signal (a real-time signal set with `F_SETSIG`, so it
/// cannot kill the daemon) and logs which locked file a writer or truncate is waiting on.
/// Recalling lease holders on a break is built on this later.
enum LeaseBreakMonitor {
    static func start(locker: FileLocker, logger: Logger) throws(CoreError) {
        do {
            try LeaseBreakSignal.install()
        } catch {
            throw CoreError(.systemError, "cannot install the lease-break signal handler: \(error)")
        }
        let thread = Thread {
            while true {
                let descriptor = LeaseBreakSignal.waitForBrokenDescriptor()
                if let file = locker.lockedFile(descriptor: descriptor) {
                    logger.warning(
                        "kernel lease break on locked \(file.path.canonical): a process opened it for write or truncated it after its immutable flag was cleared; the opener waits up to lease-break-time")
                } else {
                    logger.warning("kernel lease break on descriptor \(descriptor), which no locked file holds")
                }
            }
        }
        thread.name = "lease-break"
        thread.start()
    }
}
