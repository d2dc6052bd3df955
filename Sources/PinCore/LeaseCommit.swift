import Logging
import Synchronization

/// How a transition becomes durable: in memory under the lock, queued for the state database
/// in the same order, acted on once committed; put back as stored when the write fails.
extension LeaseBook {
    /// Runs `change` under the lock, queues its writes in order, waits until they are durable,
    /// then (on the committing thread, in order) acts on them. A change that writes nothing
    /// (a repeated release or revoke) still waits for the writes queued before it, through a
    /// barrier of its own: its answer may describe them.
    ///
    /// Inside ``CommitDeferral/collecting(_:)`` a transition returns without waiting;
    /// the deferral waits (and undoes) instead.
    ///
    /// A write that cannot be made durable (a full disk: `no-space`) fails the caller, and the
    /// leases it changed are put back as the state database has them (``restore(_:)``): memory
    /// never stays ahead of what is durable, the daemon keeps serving, and the next
    /// transition succeeds once there is space again.
    func transition<T>(_ change: (inout Book, inout Transition, Int64) throws(CoreError) -> T) throws(CoreError) -> T {
        let (result, ticket, changed) = try book.withLock {
            book throws(CoreError) -> (T, (any CommitTicket)?, [String]) in
            var transition = Transition()
            let result = try change(&book, &transition, clock.wallMilliseconds())
            guard !transition.isEmpty || !transition.timers.isEmpty else { return (result, store.barrier(), []) }
            let done = transition
            let ticket = store.enqueue(
                leases: transition.leases, events: transition.events, outbox: transition.outbox,
                afterCommit: { [weak self] in self?.act(on: done) })
            return (result, ticket, transition.leases.map(\.id))
        }
        if let ticket {
            // A request answered once durable (``CommitDeferral``) waits off this thread.
            let undoing: @Sendable (CoreError) -> Void = { [weak self] error in self?.undo(changed, after: error) }
            if let deferral = CommitDeferral.current, deferral.hold(ticket, undo: undoing) { return result }
            do throws(CoreError) {
                try store.wait(ticket)
            } catch {
                undo(changed, after: error)
                throw error
            }
        }
        return result
    }

    /// After the write of a transition that changed leases `ids` failed with `error`.
    private func undo(_ ids: [String], after error: CoreError) {
        logger.error(
            "a lease transition could not be made durable (\(error.detail)); its leases are put back as stored")
        restore(ids)
    }

    /// Puts the leases `ids` back as the state database has them, after a write of theirs
    /// failed (its events, webhooks and timers never took effect: they act only once
    /// durable). Runs under the book's lock once every write queued so far has settled, so no
    /// transition builds on the undone change meanwhile, and what is read is final. A lease
    /// with no durable row was a grant that never happened: it is forgotten and let go of
    /// its pin. Timers already due fire again a second later (not in a loop on a full disk).
    func restore(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        book.withLock { book in
            if let barrier = store.barrier() { try? store.wait(barrier) }
            let now = clock.wallMilliseconds()
            for id in Set(ids) {
                let durable: LeaseRecord?
                do throws(CoreError) {
                    durable = try store.lease(id: id)
                } catch {
                    logger.error(
                        "lease \(id): cannot read its durable record back (\(error.detail)); memory keeps the change")
                    continue
                }
                let inMemory = book.leases[id]
                if let inMemory, inMemory.state.isEnded, durable.map({ !$0.state.isEnded }) ?? true {
                    book.endedOrder.removeAll { $0 == id }  // not ended after all (after the head: indices stay valid)
                }
                guard let durable else {
                    book.forget([id])
                    if let inMemory { _ = pins.detachLease(id, from: inMemory.pinID) }
                    timer.cancel(.expiry(id))
                    timer.cancel(.deadline(id))
                    continue
                }
                book.put(durable)
                switch durable.state {
                case .active:
                    timer.set(.expiry(id), at: max(durable.expiresAt, now + 1000))
                    timer.cancel(.deadline(id))
                case .revoking:
                    timer.cancel(.expiry(id))
                    timer.set(.deadline(id), at: max(durable.deadline ?? now, now + 1000))
                case .released, .revoked, .expired:
                    timer.cancel(.expiry(id))
                    timer.cancel(.deadline(id))
                }
            }
        }
    }
}
