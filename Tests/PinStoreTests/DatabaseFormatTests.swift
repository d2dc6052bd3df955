import Foundation
import PinJSON
import PinTestSupport
import PinWire
import Testing

@testable import PinCore
@testable import PinStore

/// The format of `<state-dir>/pinlease.db` stays what it is: a fresh database made by the
/// stores has exactly the committed schema (`Tests/Fixtures/pinlease-db-schema.sql`), a
/// database written by today's code reads back, and databases of earlier schemas are brought
/// up to today's columns and indexes on start.
///
/// A deliberate format change regenerates the golden file (and needs a migration):
/// `PINLEASE_UPDATE_SCHEMA=1 swift test --filter DatabaseFormatTests`.
@Suite struct DatabaseFormatTests {
    static let goldenPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pinlease-db-schema.sql").path

    @Test func aFreshDatabaseHasTheCommittedSchema() throws {
        let directory = StoreTestDirectory("db-format")
        defer { directory.remove() }
        try Self.openStores(directory.path)
        let schema = try Self.schemaDump(directory.file("pinlease.db"))
        if ProcessInfo.processInfo.environment["PINLEASE_UPDATE_SCHEMA"] == "1" {
            try schema.write(toFile: Self.goldenPath, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOfFile: Self.goldenPath, encoding: .utf8)
        let (missing, extra) = Self.lineDifference(expected: golden, actual: schema)
        let change = "missing:\n\(missing.joined(separator: "\n"))\nnew:\n\(extra.joined(separator: "\n"))"
        #expect(
            missing.isEmpty && extra.isEmpty,
            "the database format changed (migrate, then regenerate the golden file):\n\(change)")
    }

    /// Rows written (here by SQL, as the current daemon writes them) in a database that has the
    /// committed schema read back through both stores, field by field.
    @Test func aDatabaseWrittenByTodaysCodeReadsBack() throws {
        let directory = StoreTestDirectory("db-today")
        defer { directory.remove() }
        do {
            let database = try SQLiteDatabase(path: directory.file("pinlease.db"))
            let golden = try String(contentsOfFile: Self.goldenPath, encoding: .utf8)
            // Every CREATE of the golden file but SQLite's own table (made with the first AUTOINCREMENT).
            let statements = golden.components(separatedBy: ";\n")
            for statement in statements where statement.contains("CREATE ") && !statement.contains("sqlite_sequence") {
                try database.execute(statement)
            }
            try Self.writeTodaysRows(database)
        }
        let state = try StateStore(directory: directory.path)
        let leases = try LeaseStore(directory: directory.path)

        let violation = FileViolation(code: "size-changed", detail: "grew by 4096 bytes", detectedAt: 1_764_000_000_123)
        let locks = try state.locks()
        #expect(
            locks == [
                LockRecord(
                    path: RootedPath(root: "data", relative: "a.bin"), device: 2049, inode: 12, flagSetByDaemon: true,
                    phase: .locked, lockedAt: "2026-12-01T10:00:00.000Z", writers: .none, violation: nil),
                LockRecord(
                    path: RootedPath(root: "data", relative: "b/c.bin"), device: 2049, inode: 13,
                    flagSetByDaemon: false,
                    phase: .unlocking, lockedAt: "2026-12-01T10:00:01.000Z", writers: .daemon, violation: violation),
            ])
        let pins = try state.pins()
        #expect(
            pins == [
                PinRecord(
                    id: "pin_1", path: RootedPath(root: "data", relative: "a.bin"),
                    file: FileID(device: 2049, inode: 12),
                    offset: 4096, length: 8192, access: .write, longTerm: .required, autoPin: true,
                    createdAt: "2026-12-01T10:00:02.000Z")
            ])
        let operation = try #require(try state.operation(id: "op_1"))
        #expect(operation.kind == "prepare" && operation.path == "data:a.bin" && operation.state == .succeeded)
        #expect(operation.doneBytes == 65536 && operation.totalBytes == 65536)
        #expect(operation.createdAt == "2026-12-01T09:59:00.000Z" && operation.finishedAt == "2026-12-01T09:59:01.000Z")
        #expect(operation.result == .prepared(Self.todaysReport) && operation.error == nil)
        // Saved again, the result is stored as the very text that was read.
        try state.saveOperation(operation)
        let stored = try SQLiteDatabase(path: directory.file("pinlease.db"))
            .query("SELECT result FROM operations WHERE id = 'op_1'").first?[0].text
        #expect(stored == Self.todaysReportJSON)
        let failed = try #require(try state.operation(id: "op_2"))
        #expect(failed.state == .failed && failed.result == nil && failed.error?.code == .noSpace)

        let leaseRecords = try leases.leases()
        #expect(leaseRecords == [Self.todaysLease])
        #expect(try leases.lastEventSequence() == 7)
        #expect(leases.events(after: 0, limit: 10).map(\.sequence) == [3, 7])
        let granted = try #require(leases.events(after: 0, limit: 1).first)
        #expect(
            granted
                == Event(
                    sequence: 3, type: .leaseGranted, timestamp: "2026-12-01T10:00:03.000Z",
                    data: ["lease_id": "lease_1", "pin_id": "pin_1"], holder: "h1"))
        #expect(leases.events(after: 3, limit: 10).first?.holder == nil)
        #expect(try leases.outbox().map(\.id) == ["msg_pending"])
        #expect(
            try leases.outboxEntry(id: "msg_pending")
                == OutboxEntry(
                    id: "msg_pending", leaseID: "lease_1", event: .leaseRevoking, url: "http://127.0.0.1:9/hook",
                    body: "{\"seq\":7}",
                    retryUntil: 1_764_000_100_000, attemptsAfterDeadline: 3, attempts: 2,
                    nextAttemptAt: 1_764_000_050_000))
        let finished = try #require(try leases.outboxEntry(id: "msg_done"))
        #expect(finished.finishedAt == 1_764_000_040_000 && finished.outcome == "delivered")
        #expect(
            try leases.deliveries(leaseID: "lease_1").map { "\($0.attempt) \($0.statusCode ?? 0) \($0.outcome)" } == [
                "1 500 failed(reason: \"HTTP 500\")", "2 200 delivered",
            ])
        #expect(try leases.lastAlive() == 1_764_000_060_000)
    }

    /// The oldest schema the stores still open: locks without writers or violations, an outbox
    /// whose finished rows were deleted, none of the later tables. It gains today's columns
    /// and indexes, in today's column order, and its rows read back with the defaults.
    @Test func anEarlierSchemaIsMigratedToTodaysColumnsAndIndexes() throws {
        let fresh = StoreTestDirectory("db-fresh")
        let old = StoreTestDirectory("db-old")
        defer {
            fresh.remove()
            old.remove()
        }
        try Self.openStores(fresh.path)
        do {
            let database = try SQLiteDatabase(path: old.file("pinlease.db"))
            try database.execute(
                """
                CREATE TABLE locked_files (path TEXT PRIMARY KEY, root TEXT NOT NULL, relative_path TEXT NOT NULL,
                    device INTEGER NOT NULL, inode INTEGER NOT NULL, flag_set_by_daemon INTEGER NOT NULL,
                    phase TEXT NOT NULL, locked_at TEXT NOT NULL)
                """)
            try database.execute(
                "INSERT INTO locked_files VALUES ('data:a.bin', 'data', 'a.bin', 7, 8, 1, 'locked', 't0')")
            try database.execute(
                """
                CREATE TABLE leases (id TEXT PRIMARY KEY, pin_id TEXT NOT NULL, root TEXT NOT NULL,
                    relative_path TEXT NOT NULL, holder TEXT NOT NULL, state TEXT NOT NULL, ttl_s INTEGER NOT NULL,
                    grace_s INTEGER NOT NULL, webhook_url TEXT, webhook_secret TEXT, holder_uid INTEGER,
                    auto_pin INTEGER NOT NULL, granted_at INTEGER NOT NULL, renewed_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL, reason TEXT, deadline INTEGER, ended_at INTEGER)
                """)
            try database.execute(
                """
                CREATE TABLE webhook_outbox (id TEXT PRIMARY KEY, lease_id TEXT NOT NULL, event TEXT NOT NULL,
                    url TEXT NOT NULL, body TEXT NOT NULL, retry_until INTEGER NOT NULL,
                    attempts_after INTEGER NOT NULL)
                """)
        }
        try Self.openStores(old.path)
        let (missing, extra) = Self.lineDifference(
            expected: try Self.columnsAndIndexes(fresh.file("pinlease.db")),
            actual: try Self.columnsAndIndexes(old.file("pinlease.db")))
        #expect(missing.isEmpty && extra.isEmpty, "after migration:\nmissing: \(missing)\nextra: \(extra)")
        let migrated = try StateStore(directory: old.path)
        let migratedLocks = try migrated.locks()
        #expect(
            migratedLocks == [
                LockRecord(
                    path: RootedPath(root: "data", relative: "a.bin"), device: 7, inode: 8, flagSetByDaemon: true,
                    phase: .locked,
                    lockedAt: "t0", writers: .none, violation: nil)
            ])
        try Self.openStores(old.path)  // a second start changes nothing
        #expect(
            try Self.columnsAndIndexes(old.file("pinlease.db")) == Self.columnsAndIndexes(fresh.file("pinlease.db")))
    }

    // MARK: helpers

    /// Opens (and so creates or migrates) the database the way the daemon does: the state
    /// store first, then the lease store.
    static func openStores(_ directory: String) throws {
        _ = try StateStore(directory: directory)
        _ = try LeaseStore(directory: directory)
    }

    /// Every schema object (`sqlite_master`, by name) as SQL, with the pragmas stored in the file.
    static func schemaDump(_ path: String) throws -> String {
        let database = try SQLiteDatabase(path: path)
        var lines = [
            "-- The schema of <state-dir>/pinlease.db as the current code creates it (DatabaseFormatTests).",
            "-- Regenerate only for a deliberate format change:",
            "-- PINLEASE_UPDATE_SCHEMA=1 swift test --filter DatabaseFormatTests",
        ]
        for pragma in ["user_version", "application_id", "journal_mode", "auto_vacuum"] {
            let value = try database.query("PRAGMA \(pragma)").first?.first
            lines.append("PRAGMA \(pragma) = \(value?.int.map(String.init) ?? value?.text ?? "NULL");")
        }
        for row in try database.query("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name") {
            let (type, name, table) = (row[0].text ?? "?", row[1].text ?? "?", row[2].text ?? "?")
            if let sql = row[3].text {
                lines.append("-- \(type) \(name)")
                lines.append(sql + ";")
            } else {
                lines.append("-- \(type) \(name) on \(table) (made by SQLite for a key)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every table's columns (position, name, type, not null, default, key) and every index's
    /// columns, independent of how the `CREATE` text was spelled.
    static func columnsAndIndexes(_ path: String) throws -> String {
        let database = try SQLiteDatabase(path: path)
        var lines: [String] = []
        let tables = try database.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").compactMap
        { $0[0].text }
        func describe(_ value: SQLValue) -> String { value.int.map(String.init) ?? value.text ?? "NULL" }
        for table in tables {
            for column in try database.query("PRAGMA table_info(\(table))") {
                lines.append("table \(table): " + column.map(describe).joined(separator: " "))
            }
            for index in try database.query("PRAGMA index_list(\(table))") {
                let name = describe(index[1])
                let columns = try database.query("PRAGMA index_info(\(name))").map { describe($0[2]) }
                lines.append(
                    "index \(name) on \(table) (\(columns.joined(separator: ", "))) unique \(describe(index[2])) "
                        + "origin \(describe(index[3])) partial \(describe(index[4]))")
            }
        }
        return lines.sorted().joined(separator: "\n")
    }

    /// The lines of `expected` not in `actual`, and those of `actual` not in `expected`.
    static func lineDifference(expected: String, actual: String) -> (missing: [String], extra: [String]) {
        let expectedLines = expected.split(separator: "\n").map(String.init)
        let actualLines = actual.split(separator: "\n").map(String.init)
        return (expectedLines.filter { !actualLines.contains($0) }, actualLines.filter { !expectedLines.contains($0) })
    }

    static let todaysLease = LeaseRecord(
        id: "lease_1", pinID: "pin_1", path: RootedPath(root: "data", relative: "a.bin"), holder: "h1",
        state: .revoking,
        ttlSeconds: 60, graceSeconds: 30, webhookURL: "http://127.0.0.1:9/hook", webhookSecret: "whsec_abc",
        holderUID: 1000,
        autoPin: true, grantedAt: 1_764_000_000_000, renewedAt: 1_764_000_010_000, expiresAt: 1_764_000_070_000,
        reason: "revoked-by-admin", deadline: 1_764_000_100_000, endedAt: nil)

    /// A prepare's result as the daemon stores it (``LayoutReport``'s JSON form).
    static let todaysReportJSON =
        #"{"path":"data:a.bin","root":"data","relative_path":"a.bin","size":65536,"block_size":4096,"#
        + #""fs_type":"ext4","mount_point":"/srv","dax":false,"immutable":false,"locked":false,"#
        + #""extent_source":"fiemap","extents":1,"holes":0,"bytes":{"written":65536,"unwritten":0,"hole":0,"#
        + #""shared":0,"delalloc":0,"inline":0,"encoded":0},"ready":true,"reasons":[]}"#

    static var todaysReport: LayoutReport {
        var bytes = LayoutBytes()
        bytes.written = 65536
        return LayoutReport(
            path: RootedPath(root: "data", relative: "a.bin"), size: 65536, blockSize: 4096, fsType: "ext4",
            mountPoint: "/srv", dax: false, immutable: false, locked: false, extentSource: "fiemap", extentCount: 1,
            holeCount: 0, bytes: bytes, reasons: [])
    }

    /// One row of every kind, with every optional column both set and unset somewhere.
    static func writeTodaysRows(_ database: SQLiteDatabase) throws {
        let statements = [
            """
            INSERT INTO locked_files (path, root, relative_path, device, inode, flag_set_by_daemon, phase, locked_at,
                writers, violation)
            VALUES ('data:a.bin', 'data', 'a.bin', 2049, 12, 1, 'locked', '2026-12-01T10:00:00.000Z', 'none', NULL),
                   ('data:b/c.bin', 'data', 'b/c.bin', 2049, 13, 0, 'unlocking', '2026-12-01T10:00:01.000Z', 'daemon',
                    '{"code":"size-changed","detail":"grew by 4096 bytes","detected_at_ms":1764000000123}')
            """,
            """
            INSERT INTO pins (id, root, relative_path, device, inode, offset, length, access, longterm, auto_pin,
                created_at)
            VALUES ('pin_1', 'data', 'a.bin', 2049, 12, 4096, 8192, 'write', 'true', 1, '2026-12-01T10:00:02.000Z')
            """,
            """
            INSERT INTO operations (id, kind, path, state, done_bytes, total_bytes, created_at, finished_at, result,
                error)
            VALUES ('op_1', 'prepare', 'data:a.bin', 'succeeded', 65536, 65536, '2026-12-01T09:59:00.000Z',
                    '2026-12-01T09:59:01.000Z', '\(Self.todaysReportJSON)', NULL),
                   ('op_2', 'prepare', 'data:b/c.bin', 'failed', 0, 4096, '2026-12-01T09:59:02.000Z',
                    '2026-12-01T09:59:03.000Z', NULL, \
            '{"type":"https://pinlease.dev/problems/no-space","title":"No space left","detail":"full"}')
            """,
            """
            INSERT INTO leases (id, pin_id, root, relative_path, holder, state, ttl_s, grace_s, webhook_url,
                webhook_secret, holder_uid, auto_pin, granted_at, renewed_at, expires_at, reason, deadline, ended_at)
            VALUES ('lease_1', 'pin_1', 'data', 'a.bin', 'h1', 'revoking', 60, 30, 'http://127.0.0.1:9/hook',
                'whsec_abc', 1000, 1, 1764000000000, 1764000010000, 1764000070000, 'revoked-by-admin',
                1764000100000, NULL)
            """,
            """
            INSERT INTO events (seq, type, timestamp, holder, data)
            VALUES (3, 'lease.granted', '2026-12-01T10:00:03.000Z', 'h1', '{"lease_id":"lease_1","pin_id":"pin_1"}'),
                   (7, 'file.violation', '2026-12-01T10:00:04.000Z', NULL, '{"path":"data:b/c.bin"}')
            """,
            """
            INSERT INTO webhook_outbox (id, lease_id, event, url, body, retry_until, attempts_after, attempts,
                next_attempt_at, finished_at, outcome)
            VALUES ('msg_done', 'lease_1', 'lease.granted', 'http://127.0.0.1:9/hook', '{}', 0, 0, 1, NULL,
                    1764000040000, 'delivered'),
                   ('msg_pending', 'lease_1', 'lease.revoking', 'http://127.0.0.1:9/hook', '{"seq":7}',
                    1764000100000, 3, 2, 1764000050000, NULL, NULL)
            """,
            """
            INSERT INTO deliveries (lease_id, attempt)
            VALUES ('lease_1', '\(Self.deliveryJSON("lease_1", attempt: 1, status: 500))'),
                   ('lease_1', '\(Self.deliveryJSON("lease_1", attempt: 2, status: 200))'),
                   ('lease_2', '\(Self.deliveryJSON("lease_2", attempt: 1, status: 200))')
            """,
            "INSERT INTO daemon_clock (id, alive_at) VALUES (1, 1764000060000)",
        ]
        for statement in statements { try database.execute(statement) }
    }

    /// A delivery log row as the daemon writes it (`DeliveryRecord`'s JSON form).
    static func deliveryJSON(_ leaseID: String, attempt: Int, status: Int) -> String {
        let outcome = status == 200 ? #""outcome":"delivered""# : #""outcome":"failed","reason":"HTTP \#(status)""#
        return
            #"{"webhook_id":"msg_done","lease_id":"\#(leaseID)","event":"lease.granted","#
            + #""url":"http://127.0.0.1:9/hook","#
            + #""attempt":\#(attempt),"started_at":"2026-12-01T10:00:0\#(attempt).000Z","duration_ms":4,"#
            + #""status":\#(status),\#(outcome)}"#
    }

}
