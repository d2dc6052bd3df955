import Synchronization

/// Takes the wait for lease transitions' commits off the thread that made them.
///
/// Inside ``collecting(_:)``, a transition that queues a write (or a barrier) does not wait for
/// it: it hands its ticket (and how to undo it) to the deferral and returns at once. The caller
/// must not act on the result before ``settle()`` returned `nil` (every write is then durable);
/// when a write failed, ``settle()`` has put the changed leases back as stored and returns the
/// error the caller answers with instead. Once `collecting`'s body has returned, the deferral
/// takes nothing more (a transition after that waits as usual). For the HTTP engine: a request
/// is answered only once its transitions are durable, and no thread waits per request meanwhile.
package final class CommitDeferral: Sendable {
    @TaskLocal package static var current: CommitDeferral?

    private struct Held: Sendable {
        let ticket: any CommitTicket
        /// Puts the transition's leases back as stored (after a failed write).
        let undo: @Sendable (CoreError) -> Void
    }

    private struct State: Sendable {
        var held: [Held] = []
        var closed = false
    }

    private let state = Mutex(State())

    private init() {}

    /// Runs `body` with transitions deferring their wait to the returned deferral (whose
    /// ``settle()`` must then be called when it ``isHolding``, whatever `body` returned).
    package static func collecting<T>(_ body: () -> T) -> (T, CommitDeferral) {
        let deferral = CommitDeferral()
        let result = $current.withValue(deferral) { body() }
        deferral.state.withLock { $0.closed = true }
        return (result, deferral)
    }

    /// Takes `ticket` while `collecting`'s body runs; false: the caller waits for it itself.
    package func hold(_ ticket: any CommitTicket, undo: @escaping @Sendable (CoreError) -> Void) -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            state.held.append(Held(ticket: ticket, undo: undo))
            return true
        }
    }

    /// Whether a transition handed its wait over (then ``settle()`` blocks until it is durable).
    package var isHolding: Bool {
        state.withLock { !$0.held.isEmpty }
    }

    /// Waits until every held write is durable: `nil` then (or when nothing was held), else the
    /// first error, after the leases of each failed write were put back as stored. Blocks (it
    /// may commit the batch).
    package func settle() -> CoreError? {
        let held = state.withLock { state in
            defer { state.held = [] }
            return state.held
        }
        var failure: CoreError?
        for write in held {
            do throws(CoreError) {
                try write.ticket.wait()
            } catch {
                write.undo(error)
                failure = failure ?? error
            }
        }
        return failure
    }
}
