import Foundation
import Synchronization

@testable import PinCore

/// A ``LeaseJournal`` in memory, for unit tests of the lease state machine: no SQLite, no fsync.
///
/// Writes queue in order and are committed by the first caller that waits for one (as the real
/// group commit does): a batch takes every pending write, becomes "durable" (visible to the
/// reads) all at once, runs its `afterCommit` actions in queue order on that thread, then marks
/// its tickets done. A ``barrier()`` is `nil` when nothing is pending or being committed, and
/// otherwise done once every write queued before it is. The ``gate`` can hold a commit open
/// (after it took its batch, before it is durable), so a test can act while a commit is in flight.
/// Keep one instance to model a restart: a new book over the same journal reads what was committed.
final class MemoryLeaseJournal: LeaseJournal, @unchecked Sendable {  // the queue state is guarded by `queue`
    /// What has been committed (what the reads return).
    fileprivate struct Durable {
        var leases: [String: LeaseRecord] = [:]
        var events: [Event] = []
        /// Outbox entries, pending and finished, in the order they were (re)inserted.
        var outbox: [OutboxEntry] = []
        var deliveries: [DeliveryRecord] = []
        var aliveAt: Int64?
    }

    /// One queued write; `nil` payload for a barrier.
    private struct Write {
        var leases: [LeaseRecord] = []
        var events: [Event] = []
        var outbox: [OutboxEntry] = []
        var finishedOutbox: [String] = []
        var afterCommit: (@Sendable () -> Void)?
        let ticket: Ticket
        let isBarrier: Bool
    }

    /// A queued write or barrier. Guarded by the journal's `queue` condition.
    final class Ticket: CommitTicket, @unchecked Sendable {
        fileprivate let journal: MemoryLeaseJournal
        fileprivate var done = false
        fileprivate var error: CoreError?

        fileprivate init(_ journal: MemoryLeaseJournal) { self.journal = journal }

        func wait() throws(CoreError) { try journal.wait(self) }
    }

    private let durable = Mutex(Durable())
    /// Guards `pending`, `committing`, `waiters` and the tickets; signalled when a batch is done.
    private let queue = NSCondition()
    private var pending: [Write] = []
    private var committing = false
    private var waiters = 0
    /// The next commits fail with these errors (one per commit), without writing anything.
    private var failures: [CoreError] = []
    /// Holds commits open while closed (see ``CommitGate``).
    let gate = CommitGate()

    // MARK: test controls

    /// Callers inside ``CommitTicket/wait()`` now (the leader of a commit included).
    var waiterCount: Int {
        queue.lock()
        defer { queue.unlock() }
        return waiters
    }

    /// Writes queued and not yet taken by a commit (barriers included).
    var pendingCount: Int {
        queue.lock()
        defer { queue.unlock() }
        return pending.count
    }

    /// Makes the next commit fail with `error` (a full disk: nothing of its batch is written).
    func failNextCommit(_ error: CoreError = CoreError(.stateFull, "the state disk is full (test)")) {
        queue.lock()
        failures.append(error)
        queue.unlock()
    }

    /// Commits everything queued so far on the calling thread (a write nobody waits for yet).
    func commitPending() {
        let ticket = queue.withLock { () -> Ticket? in
            guard committing || !pending.isEmpty else { return nil }
            return appendBarrier()
        }
        try? ticket?.wait()
    }

    // MARK: LeaseJournal: queued writes

    func enqueue(
        leases: [LeaseRecord], events: [Event], outbox: [OutboxEntry], finishedOutbox: [String],
        afterCommit: (@Sendable () -> Void)?
    ) -> any CommitTicket {
        let ticket = Ticket(self)
        queue.withLock {
            pending.append(
                Write(
                    leases: leases, events: events, outbox: outbox, finishedOutbox: finishedOutbox,
                    afterCommit: afterCommit, ticket: ticket, isBarrier: false))
        }
        return ticket
    }

    func barrier() -> (any CommitTicket)? {
        queue.withLock { () -> Ticket? in
            guard committing || !pending.isEmpty else { return nil }
            return appendBarrier()
        }
    }

    /// Under `queue`.
    private func appendBarrier() -> Ticket {
        let ticket = Ticket(self)
        pending.append(Write(ticket: ticket, isBarrier: true))
        return ticket
    }

    /// Leads a commit when none is running and something is pending; otherwise sleeps until a
    /// commit finishes and looks again.
    fileprivate func wait(_ ticket: Ticket) throws(CoreError) {
        queue.lock()
        waiters += 1
        while !ticket.done {
            guard !committing, !pending.isEmpty else {
                queue.wait()
                continue
            }
            committing = true
            let batch = pending
            pending = []
            let failure = failures.isEmpty ? nil : failures.removeFirst()
            queue.unlock()
            gate.pass()
            if failure == nil { apply(batch) }
            if failure == nil { for write in batch { write.afterCommit?() } }
            queue.lock()
            for write in batch {
                write.ticket.error = write.isBarrier ? nil : failure
                write.ticket.done = true
            }
            committing = false
            queue.broadcast()
        }
        waiters -= 1
        let error = ticket.error
        queue.unlock()
        if let error { throw error }
    }

    private func apply(_ batch: [Write]) {
        durable.withLock { state in
            for write in batch where !write.isBarrier {
                for lease in write.leases { state.leases[lease.id] = lease }
                state.events += write.events
                for entry in write.outbox {
                    state.outbox.removeAll { $0.id == entry.id }  // INSERT OR REPLACE
                    state.outbox.append(entry)
                }
                state.outbox.removeAll { write.finishedOutbox.contains($0.id) }
            }
        }
    }

    // MARK: LeaseJournal: immediate writes

    func recordDeliveries(_ records: [DeliveryRecord], outbox updates: [OutboxUpdate]) throws(CoreError) {
        durable.withLock { state in
            state.deliveries += records
            for update in updates {
                switch update {
                case .attempted(let id, let attempts, let next):
                    state.updateOutbox(id) { entry in
                        entry.attempts = attempts
                        if let next { entry.nextAttemptAt = next }
                    }
                case .reopened(let id, let attempts, let at):
                    state.updateOutbox(id) { entry in
                        (entry.finishedAt, entry.outcome, entry.attempts, entry.nextAttemptAt) = (
                            nil, nil, attempts, at
                        )
                    }
                case .finished(let id, let outcome, let at):
                    state.updateOutbox(id) { entry in (entry.finishedAt, entry.outcome) = (at, outcome) }
                }
            }
        }
    }

    func markAlive(at milliseconds: Int64) throws(CoreError) {
        durable.withLock { $0.aliveAt = milliseconds }
    }

    func prune(endedLeases: [String], eventsUpTo sequence: UInt64?) throws(CoreError) {
        let ids = Set(endedLeases)
        durable.withLock { state in
            for id in ids { state.leases[id] = nil }
            state.deliveries.removeAll { ids.contains($0.leaseID) }
            state.outbox.removeAll { ids.contains($0.leaseID) }
            if let sequence { state.events.removeAll { $0.sequence <= sequence } }
        }
    }

    func checkpoint() throws(CoreError) {}

    // MARK: LeaseJournal: reads (what was committed)

    func leases() throws(CoreError) -> [LeaseRecord] {
        durable.withLock { $0.leases.values.sorted { ($0.grantedAt, $0.id) < ($1.grantedAt, $1.id) } }
    }

    func lease(id: String) throws(CoreError) -> LeaseRecord? {
        durable.withLock { $0.leases[id] }
    }

    func events(after sequence: UInt64, limit: Int) -> [Event] {
        durable.withLock {
            Array($0.events.filter { $0.sequence > sequence }.sorted { $0.sequence < $1.sequence }.prefix(limit))
        }
    }

    func lastEventSequence() throws(CoreError) -> UInt64 {
        durable.withLock { $0.events.map(\.sequence).max() ?? 0 }
    }

    func outbox() throws(CoreError) -> [OutboxEntry] {
        durable.withLock { $0.outbox.filter { $0.finishedAt == nil } }
    }

    func outboxEntry(id: String) throws(CoreError) -> OutboxEntry? {
        durable.withLock { $0.outbox.first { $0.id == id } }
    }

    func deliveries(leaseID: String) throws(CoreError) -> [DeliveryRecord] {
        durable.withLock { $0.deliveries.filter { $0.leaseID == leaseID } }
    }

    func lastAlive() throws(CoreError) -> Int64? {
        durable.withLock { $0.aliveAt }
    }
}

extension MemoryLeaseJournal.Durable {
    fileprivate mutating func updateOutbox(_ id: String, _ change: (inout OutboxEntry) -> Void) {
        guard let index = outbox.firstIndex(where: { $0.id == id }) else { return }
        change(&outbox[index])
    }
}

/// Holds the commits of a ``MemoryLeaseJournal`` open: once ``close()``d, the next commit stops
/// after it took its batch (in flight: not durable, its tickets not done) until ``open()``.
final class CommitGate: @unchecked Sendable {  // `closed` and `held` are guarded by `changed`
    private let changed = NSCondition()
    private var closed = false
    private var held = 0

    /// From now on, commits stop in the gate.
    func close() { changed.withLock { closed = true } }

    /// Lets every held commit (and every later one) go on.
    func open() {
        changed.withLock {
            closed = false
            changed.broadcast()
        }
    }

    /// Commits stopped in the gate now.
    var heldCount: Int { changed.withLock { held } }

    /// Called by a committing thread: returns at once while open, else once opened.
    func pass() {
        changed.withLock {
            guard closed else { return }
            held += 1
            while closed { changed.wait() }
            held -= 1
        }
    }
}
