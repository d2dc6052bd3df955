/// The durable record of leases, the event log, the webhook outbox, the delivery log and the
/// daemon's clock. Lease transitions are queued (``enqueue(leases:events:outbox:finishedOutbox:afterCommit:)``)
/// under the lock that ordered them and waited for outside it (``CommitTicket/wait()``): writes
/// become durable in the order they were queued, concurrent writes may share one commit, and a
/// write's `afterCommit` runs only once it is durable, in queue order. Every other change
/// returns only once it is on disk; reads return what was committed.
package protocol LeaseJournal: Sendable {
    /// Queues lease records, events and outbox entries (and the removal of outbox entries
    /// `finishedOutbox`) as one write. Cheap and non-blocking: callable under the caller's lock.
    /// `afterCommit` must not block.
    func enqueue(
        leases: [LeaseRecord], events: [Event], outbox: [OutboxEntry], finishedOutbox: [String],
        afterCommit: (@Sendable () -> Void)?
    ) -> any CommitTicket
    /// A ticket done once every write queued before it is durable, or `nil` when they all
    /// already are. Writes nothing: for a change that wrote nothing but answers with state that
    /// earlier writes made (a no-op transition waits on it before answering).
    func barrier() -> (any CommitTicket)?

    /// Appends delivery attempts to the delivery log and records outbox progress, durably.
    func recordDeliveries(_ records: [DeliveryRecord], outbox updates: [OutboxUpdate]) throws(CoreError)
    /// Records that the daemon was running at `milliseconds` (epoch), durably.
    func markAlive(at milliseconds: Int64) throws(CoreError)
    /// Forgets the ended leases (with their outbox and delivery logs) and the events up to `sequence`.
    func prune(endedLeases: [String], eventsUpTo sequence: UInt64?) throws(CoreError)
    /// Keeps the storage's log small; called about once a second from a background task.
    func checkpoint() throws(CoreError)

    /// Every lease record, oldest grant first.
    func leases() throws(CoreError) -> [LeaseRecord]
    /// The committed record of one lease, or `nil` if none was committed.
    func lease(id: String) throws(CoreError) -> LeaseRecord?
    /// Up to `limit` events after `sequence`, in order (empty if they cannot be read).
    func events(after sequence: UInt64, limit: Int) -> [Event]
    /// The sequence number of the last recorded event (0: none).
    func lastEventSequence() throws(CoreError) -> UInt64
    /// The pending outbox entries, oldest first.
    func outbox() throws(CoreError) -> [OutboxEntry]
    /// One outbox entry, pending or finished.
    func outboxEntry(id: String) throws(CoreError) -> OutboxEntry?
    /// The delivery log of a lease, oldest attempt first.
    func deliveries(leaseID: String) throws(CoreError) -> [DeliveryRecord]
    /// When the daemon was last recorded running (epoch milliseconds), if ever.
    func lastAlive() throws(CoreError) -> Int64?
}

extension LeaseJournal {
    /// Queues lease records only.
    package func enqueue(leases: [LeaseRecord]) -> any CommitTicket {
        enqueue(leases: leases, events: [], outbox: [], finishedOutbox: [], afterCommit: nil)
    }

    /// Queues a transition's records; `afterCommit` runs once they are durable.
    package func enqueue(
        leases: [LeaseRecord], events: [Event], outbox: [OutboxEntry], afterCommit: (@Sendable () -> Void)?
    ) -> any CommitTicket {
        enqueue(leases: leases, events: events, outbox: outbox, finishedOutbox: [], afterCommit: afterCommit)
    }

    /// Returns once the write of `ticket` is durable (``CommitTicket/wait()``).
    package func wait(_ ticket: any CommitTicket) throws(CoreError) {
        try ticket.wait()
    }
}
