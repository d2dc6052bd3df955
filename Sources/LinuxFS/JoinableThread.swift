internal import CLinux
import Glibc
import Synchronization

/// A thread of its own for blocking work (a poll loop, a timer wait) that its owner can join:
/// after ``join()`` returns, the thread's body has returned and the thread has exited, so
/// nothing it ran can still touch its owner's state.
///
/// Joining is done once, by whichever caller (blocking ``join()`` or awaiting ``joined()``)
/// first sees the body end; every other caller returns when the body has ended too.
public final class JoinableThread: Sendable {
    private let handle: pthread_t
    private let completion: Completion

    private init(handle: pthread_t, completion: Completion) {
        self.handle = handle
        self.completion = completion
    }

    /// Starts `body` on a new thread named `name` (at most 15 bytes are kept).
    ///
    /// The corresponding C function is `pthread_create`.
    /// - Throws: `LinuxError` from `pthread_create` (`EAGAIN` at the thread limit).
    public static func start(
        name: String, _ body: @escaping @Sendable () -> Void
    ) throws(LinuxError) -> JoinableThread {
        let completion = Completion()
        let start = Unmanaged.passRetained(Start(name: name, body: body, completion: completion))
        var handle = pthread_t()
        let result = pthread_create(
            &handle, nil,
            { context in
                let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
                clinux_name_this_thread(start.name)
                start.body()
                start.completion.finish()
                return nil
            }, start.toOpaque())
        guard result == 0 else {
            start.release()
            throw LinuxError(errno: result, call: "pthread_create")
        }
        return JoinableThread(handle: handle, completion: completion)
    }

    /// Whether the calling code runs on this thread (which must never join itself).
    public var isCurrent: Bool {
        pthread_equal(handle, pthread_self()) != 0
    }

    /// Whether the body has returned.
    public var hasFinished: Bool {
        completion.hasFinished
    }

    /// Blocks until the body has returned and the thread has exited. Must not be called on
    /// the thread itself.
    ///
    /// The corresponding C function is `pthread_join`.
    public func join() {
        precondition(!isCurrent, "a thread cannot join itself")
        completion.waitBlocking()
        reap()
    }

    /// Suspends (without holding a thread of the concurrency pool) until the body has returned,
    /// then joins the thread, which by then only has its exit left.
    public func joined() async {
        await completion.wait()
        reap()
    }

    private func reap() {
        guard completion.claimJoin() else {
            completion.waitReaped()
            return
        }
        pthread_join(handle, nil)
        completion.markReaped()
    }
}

/// What the new thread receives: its name, its work and where it reports the end.
private final class Start: Sendable {
    let name: String
    let body: @Sendable () -> Void
    let completion: Completion

    init(name: String, body: @escaping @Sendable () -> Void, completion: Completion) {
        self.name = name
        self.body = body
        self.completion = completion
    }
}

/// The end of a thread's body, waited for blocking or asynchronously, and who joins it.
private final class Completion: Sendable {
    private struct State: ~Copyable {
        var finished = false
        var joinClaimed = false
        var reaped = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    /// Woken (broadcast) when the body finished and when the thread was reaped.
    private let changed = BlockingCondition()

    var hasFinished: Bool { state.withLock { $0.finished } }

    func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.waiters = [] }
            return state.waiters
        }
        changed.broadcast()
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { state in
                if !state.finished { state.waiters.append(continuation) }
                return state.finished
            }
            if finished { continuation.resume() }
        }
    }

    func waitBlocking() {
        changed.wait { self.state.withLock { $0.finished } }
    }

    /// True for the one caller that must call `pthread_join`.
    func claimJoin() -> Bool {
        state.withLock { state in
            defer { state.joinClaimed = true }
            return !state.joinClaimed
        }
    }

    func markReaped() {
        state.withLock { $0.reaped = true }
        changed.broadcast()
    }

    func waitReaped() {
        changed.wait { self.state.withLock { $0.reaped } }
    }
}

/// A pthread condition variable with its mutex, for the few blocking waits above.
private final class BlockingCondition: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func broadcast() {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Waits until `holds()` is true; `holds` is checked under the mutex, and every change
    /// it depends on is followed by ``broadcast()``, so no wake-up is lost.
    func wait(until holds: () -> Bool) {
        pthread_mutex_lock(mutex)
        while !holds() { pthread_cond_wait(condition, mutex) }
        pthread_mutex_unlock(mutex)
    }
}
