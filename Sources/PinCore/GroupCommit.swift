import Foundation

/// Makes many callers' writes durable together: each caller's `work` runs in one shared
/// transaction (isolated by a savepoint, so one failing write does not fail the others) and
/// one fsync covers the whole batch. A caller returns only after its work is on disk.
///
/// There is no thread of its own: the first waiting caller to find no commit running becomes
/// the leader, commits everything pending (its own work and whatever arrived meanwhile), runs
/// the batch's `afterCommit` actions in submission order, and wakes the others. Under load
/// every fsync carries as many writes as arrived during the previous one. Writes commit in the
/// order they were enqueued, so a caller that enqueues under its own lock gets its changes
/// (and their after-commit actions) applied in the same order as its in-memory changes.
final class GroupCommit: @unchecked Sendable {
    /// One submitted write. `afterCommit` runs (on the leader's thread, in submission order)
    /// only if the write was committed; it must not block.
    struct Write {
        let work: (SQLiteDatabase) throws(CoreError) -> Void
        let afterCommit: (@Sendable () -> Void)?
    }

    /// A write that was enqueued; ``wait(_:)`` for it.
    final class Ticket: @unchecked Sendable {
        fileprivate var done = false
        fileprivate var error: CoreError?
    }

    private let database: SQLiteDatabase
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [(Write, Ticket)] = []
    private var committing = false

    /// Takes ownership of `database`: from now on only this object uses it.
    init(database: SQLiteDatabase) {
        self.database = database
    }

    /// Runs `work` in the next batch and returns once it is durable.
    /// - Throws: the error `work` threw, or the commit's error (then nothing of the batch was written).
    func submit(
        _ work: @escaping (SQLiteDatabase) throws(CoreError) -> Void, afterCommit: (@Sendable () -> Void)? = nil
    ) throws(CoreError) {
        try wait(enqueue(work, afterCommit: afterCommit))
    }

    /// Queues `work` for the next batch without waiting (cheap: callable under the caller's locks).
    func enqueue(_ work: @escaping (SQLiteDatabase) throws(CoreError) -> Void, afterCommit: (@Sendable () -> Void)? = nil) -> Ticket {
        let ticket = Ticket()
        condition.lock()
        pending.append((Write(work: work, afterCommit: afterCommit), ticket))
        condition.unlock()
        return ticket
    }

    /// Returns once the ticket's write is durable (committing it, and whatever else is
    /// pending, if no commit is running).
    /// - Throws: the error its work threw, or the commit's error.
    func wait(_ ticket: Ticket) throws(CoreError) {
        condition.lock()
        while !ticket.done {
            if committing {
                condition.wait()
                continue
            }
            guard !pending.isEmpty else {
                condition.wait()
                continue
            }
            committing = true
            let batch = pending
            pending = []
            condition.unlock()
            let actions = commit(batch)
            for action in actions { action() }
            condition.lock()
            committing = false
            condition.broadcast()
        }
        condition.unlock()
        if let error = ticket.error { throw error }
    }

    /// Reads (or writes without waiting for others) under the same exclusion as the batches.
    func read<T>(_ body: (SQLiteDatabase) throws(CoreError) -> T) throws(CoreError) -> T {
        condition.lock()
        while committing { condition.wait() }
        committing = true
        condition.unlock()
        defer {
            condition.lock()
            committing = false
            condition.broadcast()
            condition.unlock()
        }
        return try body(database)
    }

    /// Commits one batch; marks every ticket (under the lock, by the caller's broadcast) and
    /// returns the after-commit actions of the writes that were committed.
    private func commit(_ batch: [(Write, Ticket)]) -> [@Sendable () -> Void] {
        var failures: [ObjectIdentifier: CoreError] = [:]
        var commitError: CoreError?
        do throws(CoreError) {
            try database.transaction { () throws(CoreError) in
                for (write, ticket) in batch {
                    try database.execute("SAVEPOINT write")
                    do throws(CoreError) {
                        try write.work(database)
                        try database.execute("RELEASE write")
                    } catch {
                        failures[ObjectIdentifier(ticket)] = error
                        try database.execute("ROLLBACK TO write")
                        try database.execute("RELEASE write")
                    }
                }
            }
        } catch {
            commitError = error
        }
        condition.lock()
        var actions: [@Sendable () -> Void] = []
        for (write, ticket) in batch {
            ticket.error = commitError ?? failures[ObjectIdentifier(ticket)]
            ticket.done = true
            if ticket.error == nil, let action = write.afterCommit { actions.append(action) }
        }
        condition.unlock()
        return actions
    }
}
