import PinCore
import PinJSON
import PinWire
import Synchronization

/// The daemon's durable state in `<state-dir>/pinlease.db` (SQLite, WAL, synchronous=FULL).
/// Every method returns only after its change is on disk.
package final class StateStore: FileRecordStore {
    private let database: Mutex<SQLiteDatabase>

    package init(directory: String) throws(CoreError) {
        let database = try SQLiteDatabase(path: directory + "/pinlease.db")
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS locked_files (
                path TEXT PRIMARY KEY, root TEXT NOT NULL, relative_path TEXT NOT NULL,
                device INTEGER NOT NULL, inode INTEGER NOT NULL, flag_set_by_daemon INTEGER NOT NULL,
                phase TEXT NOT NULL, locked_at TEXT NOT NULL)
            """)
        // Added with pins: who may write a locked file.
        let lockColumns = try database.query("PRAGMA table_info(locked_files)").compactMap { $0[1].text }
        if !lockColumns.contains("writers") {
            try database.execute("ALTER TABLE locked_files ADD COLUMN writers TEXT NOT NULL DEFAULT 'none'")
        }
        // Added with leases: the violation found on a locked file (JSON).
        if !lockColumns.contains("violation") {
            try database.execute("ALTER TABLE locked_files ADD COLUMN violation TEXT")
        }
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS pins (
                id TEXT PRIMARY KEY, root TEXT NOT NULL, relative_path TEXT NOT NULL,
                device INTEGER NOT NULL, inode INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
                access TEXT NOT NULL, longterm TEXT NOT NULL, auto_pin INTEGER NOT NULL, created_at TEXT NOT NULL)
            """)
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS operations (
                id TEXT PRIMARY KEY, kind TEXT NOT NULL, path TEXT NOT NULL, state TEXT NOT NULL,
                done_bytes INTEGER NOT NULL, total_bytes INTEGER NOT NULL, created_at TEXT NOT NULL,
                finished_at TEXT, result TEXT, error TEXT)
            """)
        self.database = Mutex(database)
    }

    package func saveLock(_ record: LockRecord) throws(CoreError) {
        try database.withLock { database throws(CoreError) in
            try database.execute(
                """
                INSERT OR REPLACE INTO locked_files
                    (path, root, relative_path, device, inode, flag_set_by_daemon, phase, locked_at, writers, violation)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(record.path.canonical), .text(record.path.root), .text(record.path.relative),
                    .int(Int64(bitPattern: record.device)), .int(Int64(bitPattern: record.inode)),
                    .int(record.flagSetByDaemon ? 1 : 0), .text(record.phase.rawValue), .text(record.lockedAt),
                    .text(record.writers.rawValue),
                    record.violation.map { .text(JSONCodec.encode($0.stored)) } ?? .null,
                ])
        }
    }

    package func deleteLock(_ path: RootedPath) throws(CoreError) {
        try database.withLock { database throws(CoreError) in
            try database.execute("DELETE FROM locked_files WHERE path = ?", [.text(path.canonical)])
        }
    }

    package func locks() throws(CoreError) -> [LockRecord] {
        let rows = try database.withLock { database throws(CoreError) in
            try database.query(
                "SELECT root, relative_path, device, inode, flag_set_by_daemon, phase, locked_at, writers, violation "
                    + "FROM locked_files ORDER BY path"
            )
        }
        return rows.compactMap { row in
            guard let root = row[0].text, let relative = row[1].text, let device = row[2].int, let inode = row[3].int,
                let flag = row[4].int, let phase = row[5].text.flatMap(LockRecord.Phase.init(rawValue:)),
                let lockedAt = row[6].text, let writers = row[7].text.flatMap(LockWriters.init(rawValue:))
            else { return nil }
            return LockRecord(
                path: RootedPath(root: root, relative: relative), device: UInt64(bitPattern: device),
                inode: UInt64(bitPattern: inode), flagSetByDaemon: flag != 0, phase: phase, lockedAt: lockedAt,
                writers: writers,
                violation: row[8].text.flatMap { try? JSONCodec.parse($0) }.flatMap(FileViolation.init(json:)))
        }
    }

    package func savePin(_ record: PinRecord) throws(CoreError) {
        try database.withLock { database throws(CoreError) in
            try database.execute(
                "INSERT OR REPLACE INTO pins VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .text(record.id), .text(record.path.root), .text(record.path.relative),
                    .int(Int64(bitPattern: record.file.device)), .int(Int64(bitPattern: record.file.inode)),
                    .int(Int64(record.offset)), .int(Int64(record.length)), .text(record.access.rawValue),
                    .text(record.longTerm.rawValue), .int(record.autoPin ? 1 : 0), .text(record.createdAt),
                ])
        }
    }

    package func deletePin(id: String) throws(CoreError) {
        try database.withLock { database throws(CoreError) in
            try database.execute("DELETE FROM pins WHERE id = ?", [.text(id)])
        }
    }

    package func pins() throws(CoreError) -> [PinRecord] {
        let rows = try database.withLock { database throws(CoreError) in
            try database.query(
                """
                SELECT id, root, relative_path, device, inode, offset, length, access, longterm, auto_pin, created_at
                FROM pins ORDER BY created_at, id
                """)
        }
        return rows.compactMap { row in
            guard let id = row[0].text, let root = row[1].text, let relative = row[2].text, let device = row[3].int,
                let inode = row[4].int, let offset = row[5].int, let length = row[6].int,
                let access = row[7].text.flatMap(PinAccess.init(rawValue:)),
                let longTerm = row[8].text.flatMap(LongTermMode.init(rawValue:)), let autoPin = row[9].int,
                let createdAt = row[10].text
            else { return nil }
            return PinRecord(
                id: id, path: RootedPath(root: root, relative: relative),
                file: FileID(device: UInt64(bitPattern: device), inode: UInt64(bitPattern: inode)),
                offset: UInt64(offset), length: UInt64(length), access: access, longTerm: longTerm,
                autoPin: autoPin != 0, createdAt: createdAt)
        }
    }

    package func saveOperation(_ record: OperationRecord) throws(CoreError) {
        try database.withLock { database throws(CoreError) in
            try database.execute(
                "INSERT OR REPLACE INTO operations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .text(record.id), .text(record.kind), .text(record.path), .text(record.state.rawValue),
                    .int(Int64(record.doneBytes)), .int(Int64(record.totalBytes)), .text(record.createdAt),
                    record.finishedAt.map(SQLValue.text) ?? .null,
                    record.result.map { .text(JSONCodec.encode($0.json)) } ?? .null,
                    record.error.map { .text(JSONCodec.encode(.object($0.problemJSON))) } ?? .null,
                ])
        }
    }

    package func operations() throws(CoreError) -> [OperationRecord] {
        try operations(where: "", [])
    }

    private func operations(where filter: String, _ parameters: [SQLValue]) throws(CoreError) -> [OperationRecord] {
        let rows = try database.withLock { database throws(CoreError) in
            try database.query(
                "SELECT id, kind, path, state, done_bytes, total_bytes, created_at, finished_at, result, error "
                    + "FROM operations " + filter, parameters)
        }
        return rows.compactMap { row in
            guard let id = row[0].text, let kind = row[1].text, let path = row[2].text,
                let state = row[3].text.flatMap(OperationState.init(rawValue:)), let done = row[4].int,
                let total = row[5].int, let createdAt = row[6].text
            else { return nil }
            return OperationRecord(
                id: id, kind: kind, path: path, state: state, doneBytes: UInt64(done), totalBytes: UInt64(total),
                createdAt: createdAt, finishedAt: row[7].text,
                // A stored result that is not a result of its kind (damaged, or written by another
                // version) reads as no result: the operation is still shown, without `result`.
                result: row[8].text.flatMap { try? JSONCodec.parse(Array($0.utf8)) }
                    .flatMap { OperationResult(kind: kind, json: $0) },
                error: row[9].text.flatMap { try? JSONCodec.parse(Array($0.utf8)).objectValue }.flatMap(
                    CoreError.init(problemJSON:)))
        }
    }

    package func operation(id: String) throws(CoreError) -> OperationRecord? {
        try operations(where: "WHERE id = ?", [.text(id)]).first
    }

    /// Deletes finished operations beyond the newest `count`.
    package func pruneOperations(keeping count: Int) throws(CoreError) {
        try database.withLock { database throws(CoreError) in
            try database.execute(
                """
                DELETE FROM operations WHERE state != 'running' AND id NOT IN
                    (SELECT id FROM operations ORDER BY created_at DESC LIMIT ?)
                """, [.int(Int64(count))])
        }
    }
}
