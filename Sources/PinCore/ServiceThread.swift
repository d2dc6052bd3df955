import LinuxFS
import ServiceLifecycle
import Synchronization

/// The thread of a service whose work blocks (a poll loop, a condition wait): started by the
/// service's `run()` (or an explicit `start`), never by an initializer, and joined before
/// `run()` returns or ``stop()`` does. Started at most once: after ``stop()`` nothing starts.
package final class ServiceThread: Sendable {
    private enum Phase: Sendable {
        case idle
        case running(JoinableThread)
        case stopped(JoinableThread?)
    }

    private let name: String
    private let phase = Mutex(Phase.idle)

    package init(name: String) {
        self.name = name
    }

    /// Starts `body` on the thread unless it was started or stopped before; returns the thread
    /// when this call started it.
    @discardableResult
    package func start(_ body: @escaping @Sendable () -> Void) throws(CoreError) -> JoinableThread? {
        try phase.withLock { (phase: inout Phase) throws(CoreError) -> JoinableThread? in
            guard case .idle = phase else { return nil }
            do throws(LinuxError) {
                let thread = try JoinableThread.start(name: name, body)
                phase = .running(thread)
                return thread
            } catch {
                throw CoreError(.systemError, "cannot start the \(name) thread: \(error)")
            }
        }
    }

    /// The body of a service's `run()`: starts `body` on the thread, calls `requestStop` (which
    /// must make `body` return soon, and may run before `body` started) on graceful shutdown or
    /// cancellation, and returns once the thread was joined.
    package func run(
        _ body: @escaping @Sendable () -> Void, requestStop: @escaping @Sendable () -> Void
    ) async throws {
        guard let thread = try start(body) else { return }
        await withTaskCancellationOrGracefulShutdownHandler {
            await thread.joined()
        } onCancelOrGracefulShutdown: {
            requestStop()
        }
    }

    /// Marks the thread stopped (it never starts after this) and joins it if it ran; the
    /// caller has made its body return (or return soon). From the thread itself it does not wait.
    package func stop() {
        let thread = phase.withLock { phase -> JoinableThread? in
            switch phase {
            case .idle:
                phase = .stopped(nil)
                return nil
            case .running(let thread), .stopped(let thread?):
                phase = .stopped(thread)
                return thread
            case .stopped(nil):
                return nil
            }
        }
        if let thread, !thread.isCurrent { thread.join() }
    }

    /// Whether the calling code runs on this thread.
    package var isCurrent: Bool {
        phase.withLock { phase in
            switch phase {
            case .running(let thread), .stopped(let thread?): thread.isCurrent
            case .idle, .stopped(nil): false
            }
        }
    }
}

/// Suspends until graceful shutdown reaches the calling service, or its task is cancelled.
package func shutdownRequested() async {
    try? await gracefulShutdown()
}

/// Runs `work`, which blocks, on a thread of its own and returns when it is done, without
/// holding a thread of the concurrency pool meanwhile (stopping a service joins its threads).
package func blocking(_ name: String, _ work: @escaping @Sendable () -> Void) async throws {
    do throws(LinuxError) {
        try await JoinableThread.start(name: name, work).joined()
    } catch {
        throw CoreError(.systemError, "cannot start the \(name) thread: \(error)")
    }
}
