import CoreMetrics
import PinCore
import PinJSON
import PinWire
import Synchronization

/// The durable state of leases, events, the webhook outbox and the delivery log, in the same
/// database file as the rest (`<state-dir>/pinlease.db`) through a connection of its own whose
/// writes are group-committed: every transition is on disk before it is answered or acted
/// on, and concurrent transitions share one fsync.
///
/// Reads and checkpoints (copying the write-ahead log into the database file) use a second
/// connection, so neither waits for nor stalls a batch: reads see what was committed, and
/// ``checkpoint()`` runs from a background task (see there for how the log stays small).
package final class LeaseStore: LeaseJournal {
    private let commits: GroupCommit
    private let reader: Mutex<SQLiteDatabase>
    /// Lease writes queued so far (not the daemon's clock): unchanged across checkpoints = idle.
    private let writes = Atomic<UInt64>(0)
    private let upkeep = Mutex(LogUpkeep())
    /// The database page size: a log frame holds one page.
    private let databasePageSize: Int64

    /// What ``checkpoint()`` remembers between runs.
    private struct LogUpkeep {
        var writesSeen: UInt64 = 0
        var quietRuns = 0
        var truncatedSinceWrites = false
    }

    /// Checkpoint runs without a lease write after which the daemon counts as idle.
    static let quietRunsBeforeTruncate = 2
    /// A log holding more than this is checkpointed with RESTART even while writes go on.
    static let logBoundBytes: Int64 = 32 << 20
    /// The longest a RESTART or TRUNCATE checkpoint waits for a lock (and so blocks commits).
    static let checkpointBusyTimeoutMilliseconds: Int32 = 50

    /// Opens (creating if needed) `pinlease.db` in `directory`; its group commits record their
    /// metrics through `metrics`.
    package init(directory: String, metrics: any MetricsFactory = NOOPMetricsHandler.instance) throws(CoreError) {
        let database = try SQLiteDatabase(path: directory + "/pinlease.db")
        // Commits never checkpoint (that would put a copy and an fsync of the database file on
        // the commit path): the background task does (``checkpoint()``).
        try database.execute("PRAGMA wal_autocheckpoint=0")
        // At start nobody else writes: whatever an earlier run left in the log goes now. Not
        // fatal: on a full state disk copying the log may need space the database file lacks,
        // and the daemon must still start (the background checkpoints try again).
        _ = try? database.checkpoint(.truncate)
        databasePageSize = try database.query("PRAGMA page_size").first?.first?.int ?? 4096
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS leases (
                id TEXT PRIMARY KEY, pin_id TEXT NOT NULL, root TEXT NOT NULL, relative_path TEXT NOT NULL,
                holder TEXT NOT NULL, state TEXT NOT NULL, ttl_s INTEGER NOT NULL, grace_s INTEGER NOT NULL,
                webhook_url TEXT, webhook_secret TEXT, holder_uid INTEGER, auto_pin INTEGER NOT NULL,
                granted_at INTEGER NOT NULL, renewed_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
                reason TEXT, deadline INTEGER, ended_at INTEGER)
            """)
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS events (
                seq INTEGER PRIMARY KEY, type TEXT NOT NULL, timestamp TEXT NOT NULL, holder TEXT, data TEXT NOT NULL)
            """)
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS webhook_outbox (
                id TEXT PRIMARY KEY, lease_id TEXT NOT NULL, event TEXT NOT NULL, url TEXT NOT NULL, body TEXT NOT NULL,
                retry_until INTEGER NOT NULL, attempts_after INTEGER NOT NULL)
            """)
        try Self.migrateOutbox(database)
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS deliveries (
                id INTEGER PRIMARY KEY AUTOINCREMENT, lease_id TEXT NOT NULL, attempt TEXT NOT NULL)
            """)
        try database.execute("CREATE INDEX IF NOT EXISTS deliveries_by_lease ON deliveries (lease_id, id)")
        try database.execute(
            "CREATE TABLE IF NOT EXISTS daemon_clock (id INTEGER PRIMARY KEY CHECK (id = 1), alive_at INTEGER NOT NULL)"
        )
        commits = GroupCommit(database: database, metrics: metrics)
        reader = Mutex(try SQLiteDatabase(path: directory + "/pinlease.db"))
    }

    /// Keeps the write-ahead log small; called about once a second. Every run copies what the
    /// log holds into the database file without blocking anyone (PASSIVE). Once no lease was
    /// written for ``quietRunsBeforeTruncate`` runs, the log file is truncated to zero bytes
    /// (TRUNCATE, once per quiet period). Under writes that never pause, the log could never
    /// start over (a new commit always lands before the next writer would restart it), so
    /// above ``logBoundBytes`` a RESTART makes the next writer start it over, and
    /// `journal_size_limit` cuts the file back. Both wait at most
    /// ``checkpointBusyTimeoutMilliseconds`` for a lock and are retried on the next run.
    package func checkpoint() throws(CoreError) {
        _ = try checkpointReporting()
    }

    /// ``checkpoint()``, returning what the last checkpoint of this run did.
    func checkpointReporting() throws(CoreError) -> SQLiteDatabase.CheckpointResult {
        let writesNow = writes.load(ordering: .relaxed)
        return try reader.withLock { database throws(CoreError) in
            let passive = try database.checkpoint(.passive)
            let idle = upkeep.withLock { upkeep in
                if upkeep.writesSeen != writesNow {
                    upkeep = LogUpkeep(writesSeen: writesNow)
                    return false
                }
                upkeep.quietRuns += 1
                return upkeep.quietRuns >= Self.quietRunsBeforeTruncate && !upkeep.truncatedSinceWrites
            }
            let timeout = Self.checkpointBusyTimeoutMilliseconds
            if idle {
                let truncated = try database.checkpoint(.truncate, busyTimeoutMilliseconds: timeout)
                if !truncated.busy { upkeep.withLock { $0.truncatedSinceWrites = true } }
                return truncated
            }
            if passive.logFrames * databasePageSize > Self.logBoundBytes {
                return try database.checkpoint(.restart, busyTimeoutMilliseconds: timeout)
            }
            return passive
        }
    }

    // MARK: writes (each returns once durable)

    /// Queues lease records, events and outbox entries as one write (committed in enqueue
    /// order; `afterCommit` runs once it is durable). Cheap: call it under the lock that
    /// ordered the change, then ``wait(_:)`` outside it.
    package func enqueue(
        leases: [LeaseRecord] = [], events: [Event] = [], outbox: [OutboxEntry] = [], finishedOutbox: [String] = [],
        afterCommit: (@Sendable () -> Void)? = nil
    ) -> any CommitTicket {
        writes.add(1, ordering: .relaxed)
        let ticket = commits.enqueue(
            { database throws(CoreError) in
                for lease in leases { try Self.save(lease, in: database) }
                for event in events {
                    try database.execute(
                        "INSERT INTO events (seq, type, timestamp, holder, data) VALUES (?, ?, ?, ?, ?)",
                        [
                            .int(Int64(event.sequence)), .text(event.type.rawValue), .text(event.timestamp),
                            event.holder.map { .text($0) } ?? .null, .text(event.storedData),
                        ])
                }
                for entry in outbox {
                    try database.execute(
                        """
                        INSERT OR REPLACE INTO webhook_outbox (id, lease_id, event, url, body, retry_until, \
                        attempts_after, attempts, next_attempt_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                        [
                            .text(entry.id), .text(entry.leaseID), .text(entry.event.rawValue), .text(entry.url),
                            .text(entry.body),
                            .int(entry.retryUntil), .int(Int64(entry.attemptsAfterDeadline)),
                            .int(Int64(entry.attempts)),
                            entry.nextAttemptAt.map { .int($0) } ?? .null,
                        ])
                }
                for id in finishedOutbox {
                    try database.execute("DELETE FROM webhook_outbox WHERE id = ?", [.text(id)])
                }
            }, afterCommit: afterCommit)
        return GroupCommitTicket(commits: commits, ticket: ticket)
    }

    /// A ticket done once every write queued before it is durable (`nil`: they all are), for a
    /// change that writes nothing but answers with what earlier writes made (``GroupCommit/barrier()``).
    package func barrier() -> (any CommitTicket)? {
        commits.barrier().map { GroupCommitTicket(commits: commits, ticket: $0) }
    }

    /// Appends delivery attempts to the log and records the outbox entries' progress (batched by the caller).
    package func recordDeliveries(_ records: [DeliveryRecord], outbox updates: [OutboxUpdate]) throws(CoreError) {
        writes.add(1, ordering: .relaxed)
        try commits.submit { database throws(CoreError) in
            for record in records {
                try database.execute(
                    "INSERT INTO deliveries (lease_id, attempt) VALUES (?, ?)",
                    [.text(record.leaseID), .text(JSONCodec.encode(record.json))])
            }
            for update in updates {
                switch update {
                case .attempted(let id, let attempts, let next):
                    try database.execute(
                        "UPDATE webhook_outbox SET attempts = ?, next_attempt_at = COALESCE(?, next_attempt_at) "
                            + "WHERE id = ?",
                        [.int(Int64(attempts)), next.map { .int($0) } ?? .null, .text(id)])
                case .reopened(let id, let attempts, let at):
                    try database.execute(
                        "UPDATE webhook_outbox SET finished_at = NULL, outcome = NULL, attempts = ?, "
                            + "next_attempt_at = ? WHERE id = ?",
                        [.int(Int64(attempts)), .int(at), .text(id)])
                case .finished(let id, let outcome, let at):
                    try database.execute(
                        "UPDATE webhook_outbox SET finished_at = ?, outcome = ? WHERE id = ?",
                        [.int(at), .text(outcome), .text(id)])
                }
            }
        }
    }

    /// Records that the daemon was running at `milliseconds` (the base for keeping active
    /// leases' remaining TTL over a restart).
    package func markAlive(at milliseconds: Int64) throws(CoreError) {
        try commits.submit { database throws(CoreError) in
            try database.execute(
                "INSERT OR REPLACE INTO daemon_clock (id, alive_at) VALUES (1, ?)", [.int(milliseconds)])
        }
    }

    /// Forgets the given ended leases (with their delivery logs) and the events up to `sequence`.
    package func prune(endedLeases: [String], eventsUpTo sequence: UInt64?) throws(CoreError) {
        try commits.submit { database throws(CoreError) in
            for id in endedLeases {
                try database.execute("DELETE FROM leases WHERE id = ?", [.text(id)])
                try database.execute("DELETE FROM deliveries WHERE lease_id = ?", [.text(id)])
                try database.execute("DELETE FROM webhook_outbox WHERE lease_id = ?", [.text(id)])
            }
            if let sequence { try database.execute("DELETE FROM events WHERE seq <= ?", [.int(Int64(sequence))]) }
        }
    }

    // MARK: reads

    package func leases() throws(CoreError) -> [LeaseRecord] {
        try leases(where: "1 ORDER BY granted_at, id")
    }

    /// The durable record of one lease, or `nil` if none was committed.
    package func lease(id: String) throws(CoreError) -> LeaseRecord? {
        try leases(where: "id = ?", [.text(id)]).first
    }

    private func leases(where condition: String, _ parameters: [SQLValue] = []) throws(CoreError) -> [LeaseRecord] {
        let rows = try reader.withLock { database throws(CoreError) in
            try database.query(
                """
                SELECT id, pin_id, root, relative_path, holder, state, ttl_s, grace_s, webhook_url, webhook_secret, \
                holder_uid,
                       auto_pin, granted_at, renewed_at, expires_at, reason, deadline, ended_at
                FROM leases WHERE \(condition)
                """, parameters)
        }
        return rows.compactMap { row in
            guard let id = row[0].text, let pinID = row[1].text, let root = row[2].text, let relative = row[3].text,
                let holder = row[4].text, let state = row[5].text.flatMap(LeaseState.init(rawValue:)),
                let ttl = row[6].int, let grace = row[7].int, let autoPin = row[11].int, let granted = row[12].int,
                let renewed = row[13].int, let expires = row[14].int
            else { return nil }
            return LeaseRecord(
                id: id, pinID: pinID, path: RootedPath(root: root, relative: relative), holder: holder, state: state,
                ttlSeconds: Int(ttl), graceSeconds: Int(grace), webhookURL: row[8].text, webhookSecret: row[9].text,
                holderUID: row[10].int.map { UInt32(truncatingIfNeeded: $0) }, autoPin: autoPin != 0,
                grantedAt: granted,
                renewedAt: renewed, expiresAt: expires, reason: row[15].text, deadline: row[16].int,
                endedAt: row[17].int)
        }
    }

    package func events(after sequence: UInt64, limit: Int) -> [Event] {
        let rows =
            (try? reader.withLock { database throws(CoreError) in
                try database.query(
                    "SELECT seq, type, timestamp, holder, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                    [.int(Int64(sequence)), .int(Int64(limit))])
            }) ?? []
        return rows.compactMap { row in
            guard let seq = row[0].int, let type = row[1].text.flatMap(EventType.init(rawValue:)),
                let timestamp = row[2].text,
                let text = row[4].text
            else { return nil }
            // Data that is not a JSON object makes no event: the row is skipped, as before.
            return Event(sequence: UInt64(seq), type: type, timestamp: timestamp, storedData: text, holder: row[3].text)
        }
    }

    package func lastEventSequence() throws(CoreError) -> UInt64 {
        let rows = try reader.withLock { database throws(CoreError) in try database.query("SELECT MAX(seq) FROM events")
        }
        return UInt64(rows.first?.first?.int ?? 0)
    }

    /// The pending outbox entries, oldest first.
    package func outbox() throws(CoreError) -> [OutboxEntry] {
        try outboxEntries(where: "finished_at IS NULL ORDER BY rowid", [])
    }

    /// One outbox entry, pending or finished.
    package func outboxEntry(id: String) throws(CoreError) -> OutboxEntry? {
        try outboxEntries(where: "id = ?", [.text(id)]).first
    }

    private func outboxEntries(where condition: String, _ parameters: [SQLValue]) throws(CoreError) -> [OutboxEntry] {
        let rows = try reader.withLock { database throws(CoreError) in
            try database.query(
                """
                SELECT id, lease_id, event, url, body, retry_until, attempts_after, attempts, next_attempt_at, \
                finished_at, outcome
                FROM webhook_outbox WHERE
                """ + " " + condition, parameters)
        }
        return rows.compactMap { row in
            guard let id = row[0].text, let lease = row[1].text,
                let event = row[2].text.flatMap(EventType.init(rawValue:)),
                let url = row[3].text, let body = row[4].text, let until = row[5].int, let after = row[6].int
            else { return nil }
            return OutboxEntry(
                id: id, leaseID: lease, event: event, url: url, body: body, retryUntil: until,
                attemptsAfterDeadline: Int(after),
                attempts: Int(row[7].int ?? 0), nextAttemptAt: row[8].int, finishedAt: row[9].int, outcome: row[10].text
            )
        }
    }

    /// Brings a `webhook_outbox` table written before finished entries were kept (rows were
    /// deleted once finished) up to date: it gains the attempt count, the next attempt time and
    /// the outcome columns, and an index of the pending entries. Safe to run on every start.
    private static func migrateOutbox(_ database: SQLiteDatabase) throws(CoreError) {
        let columns = Set(
            try database.query("PRAGMA table_info(webhook_outbox)").compactMap { $0.count > 1 ? $0[1].text : nil })
        let added = [
            ("attempts", "INTEGER NOT NULL DEFAULT 0"), ("next_attempt_at", "INTEGER"), ("finished_at", "INTEGER"),
            ("outcome", "TEXT"),
        ]
        for (name, type) in added where !columns.contains(name) {
            try database.execute("ALTER TABLE webhook_outbox ADD COLUMN \(name) \(type)")
        }
        try database.execute("CREATE INDEX IF NOT EXISTS webhook_outbox_by_lease ON webhook_outbox (lease_id)")
        // Entries of leases already forgotten have no secret to be signed with.
        try database.execute("DELETE FROM webhook_outbox WHERE lease_id NOT IN (SELECT id FROM leases)")
        try database.execute(
            "CREATE INDEX IF NOT EXISTS webhook_outbox_pending ON webhook_outbox (finished_at) "
                + "WHERE finished_at IS NULL"
        )
    }

    package func deliveries(leaseID: String) throws(CoreError) -> [DeliveryRecord] {
        let rows = try reader.withLock { database throws(CoreError) in
            try database.query("SELECT attempt FROM deliveries WHERE lease_id = ? ORDER BY id", [.text(leaseID)])
        }
        return rows.compactMap { row in
            row[0].text.flatMap { try? JSONCodec.parse($0) }?.objectValue.flatMap(DeliveryRecord.init(json:))
        }
    }

    package func lastAlive() throws(CoreError) -> Int64? {
        let rows = try reader.withLock { database throws(CoreError) in
            try database.query("SELECT alive_at FROM daemon_clock WHERE id = 1")
        }
        return rows.first?.first?.int
    }

    private static func save(_ lease: LeaseRecord, in database: SQLiteDatabase) throws(CoreError) {
        try database.execute(
            """
            INSERT INTO leases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, ttl_s = excluded.ttl_s, \
            renewed_at = excluded.renewed_at,
                expires_at = excluded.expires_at, reason = excluded.reason, deadline = excluded.deadline, \
            ended_at = excluded.ended_at
            """,
            [
                .text(lease.id), .text(lease.pinID), .text(lease.path.root), .text(lease.path.relative),
                .text(lease.holder),
                .text(lease.state.rawValue), .int(Int64(lease.ttlSeconds)), .int(Int64(lease.graceSeconds)),
                lease.webhookURL.map { .text($0) } ?? .null, lease.webhookSecret.map { .text($0) } ?? .null,
                lease.holderUID.map { .int(Int64($0)) } ?? .null, .int(lease.autoPin ? 1 : 0), .int(lease.grantedAt),
                .int(lease.renewedAt), .int(lease.expiresAt), lease.reason.map { .text($0) } ?? .null,
                lease.deadline.map { .int($0) } ?? .null, lease.endedAt.map { .int($0) } ?? .null,
            ])
    }
}
