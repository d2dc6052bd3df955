import PinCore
import ServiceLifecycle

/// A step of the daemon's graceful shutdown: listed after the services it needs, it is told
/// first (a group stops its services in reverse order) and runs `work` (which blocks, on a
/// thread of its own) while they all still run; they stop once it returns. Cancellation
/// skips it.
struct ShutdownPhase: Service, CustomStringConvertible {
    let name: String
    let work: @Sendable () -> Void

    var description: String { "ShutdownPhase(\(name))" }

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is failing, not shutting down
        }
        try await blocking(name, work)
    }
}
