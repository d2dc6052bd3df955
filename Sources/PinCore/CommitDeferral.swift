import Synchronization

/// Takes the wait for a lease transition's commit off the thread that made the transition.
///
/// Inside ``collecting(_:)``, the first transition that queues a write (or a barrier) does not
/// wait for it: it hands its ticket (and how to undo it) to the deferral and returns at once.
/// The caller must not act on the result before ``settle()`` returned `nil` (the write is then
/// durable); when the write failed, ``settle()`` has put the changed leases back as stored and
/// returns the error the caller answers with instead. A second transition in the same scope
/// waits as usual (on its own thread). For the HTTP engine: a request is answered only once
/// its transition is durable, and no thread waits per request meanwhile.
package final class CommitDeferral: Sendable {
    @TaskLocal package static var current: CommitDeferral?

    private struct Held: Sendable {
        let ticket: any CommitTicket
        /// Puts the transition's leases back as stored (after a failed write).
        let undo: @Sendable (CoreError) -> Void
    }

    private let held = Mutex<Held?>(nil)

    private init() {}

    /// Runs `body` with transitions deferring their wait to the returned deferral (whose
    /// ``settle()`` must then be called when it ``isHolding``, whatever `body` returned).
    package static func collecting<T>(_ body: () -> T) -> (T, CommitDeferral) {
        let deferral = CommitDeferral()
        let result = $current.withValue(deferral) { body() }
        return (result, deferral)
    }

    /// Takes `ticket` when the deferral holds none yet; false: the caller waits for it itself.
    package func hold(_ ticket: any CommitTicket, undo: @escaping @Sendable (CoreError) -> Void) -> Bool {
        held.withLock { held in
            guard held == nil else { return false }
            held = Held(ticket: ticket, undo: undo)
            return true
        }
    }

    /// Whether a transition handed its wait over (then ``settle()`` blocks until it is durable).
    package var isHolding: Bool {
        held.withLock { $0 != nil }
    }

    /// Waits until the held write is durable: `nil` then (or when nothing was held), else its
    /// error, after its leases were put back as stored. Blocks (it may commit the batch).
    package func settle() -> CoreError? {
        guard
            let held = held.withLock({ held in
                defer { held = nil }
                return held
            })
        else { return nil }
        do throws(CoreError) {
            try held.ticket.wait()
            return nil
        } catch {
            held.undo(error)
            return error
        }
    }
}
