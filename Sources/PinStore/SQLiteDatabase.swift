import CSQLite
import LinuxFS
import PinCore

/// A value bound to or read from a SQLite statement.
enum SQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case text(String)

    var int: Int64? { if case .int(let value) = self { value } else { nil } }
    var text: String? { if case .text(let value) = self { value } else { nil } }
}

/// A SQLite connection in WAL mode with `synchronous=FULL`: a statement that returns has been
/// made durable. Not thread-safe by itself; `StateStore` serializes access.
///
/// `journal_size_limit` bounds the write-ahead log file: whenever this connection starts the
/// log over (after a complete checkpoint), a larger file is truncated to the limit, so one
/// burst of writes does not leave a large file behind for good.
final class SQLiteDatabase {
    /// The size the write-ahead log file is cut back to when it starts over.
    static let journalSizeLimitBytes = 4 << 20
    /// How long a connection waits for a lock held by another connection by default.
    static let busyTimeoutMilliseconds: Int32 = 5000

    /// How hard ``checkpoint(_:busyTimeoutMilliseconds:)`` tries (`PRAGMA wal_checkpoint(MODE)`).
    enum CheckpointMode: String {
        /// Copies what it can without waiting for or blocking anyone.
        case passive = "PASSIVE"
        /// Copies everything and makes the next writer start the log over; waits for (and
        /// meanwhile blocks) writers, and waits for readers.
        case restart = "RESTART"
        /// ``restart``, then truncates the log file to zero bytes.
        case truncate = "TRUNCATE"
    }

    /// What a checkpoint did: `busy` when it could not finish (a lock stayed held), the
    /// frames in the log, and how many of them are in the database file now.
    struct CheckpointResult: Equatable {
        var busy: Bool
        var logFrames: Int64
        var checkpointedFrames: Int64
    }

    private var handle: OpaquePointer?
    /// Prepared statements by SQL text, reused (reset) on every call.
    private var statements: [String: OpaquePointer] = [:]
    let path: String

    init(path: String) throws(CoreError) {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw CoreError(.systemError, "cannot open the state database \(path): \(message)")
        }
        // The database holds webhook secrets: owner only. SQLite creates its -wal and -shm files
        // with the database file's mode.
        for file in [path, path + "-wal", path + "-shm"] { try? changeFileMode(atPath: file, to: 0o600) }
        sqlite3_busy_timeout(handle, Self.busyTimeoutMilliseconds)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        try execute("PRAGMA journal_size_limit=\(Self.journalSizeLimitBytes)")
    }

    /// Runs `PRAGMA wal_checkpoint(MODE)`. With `busyTimeoutMilliseconds`, waits at most that
    /// long for each lock instead of the connection's usual timeout (a restart or truncate
    /// blocks writers while it waits), then reports `busy` rather than failing.
    func checkpoint(_ mode: CheckpointMode, busyTimeoutMilliseconds: Int32? = nil) throws(CoreError) -> CheckpointResult
    {
        if let busyTimeoutMilliseconds { sqlite3_busy_timeout(handle, busyTimeoutMilliseconds) }
        defer { if busyTimeoutMilliseconds != nil { sqlite3_busy_timeout(handle, Self.busyTimeoutMilliseconds) } }
        let row = try query("PRAGMA wal_checkpoint(\(mode.rawValue))").first ?? []
        guard row.count == 3, let busy = row[0].int, let log = row[1].int, let done = row[2].int else {
            throw CoreError(.systemError, "state database \(path): wal_checkpoint(\(mode.rawValue)) returned \(row)")
        }
        return CheckpointResult(busy: busy != 0, logFrames: log, checkpointedFrames: done)
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close(handle)
    }

    /// Runs a statement that returns no rows.
    func execute(_ sql: String, _ parameters: [SQLValue] = []) throws(CoreError) {
        _ = try query(sql, parameters)
    }

    /// Runs a statement and returns every row.
    func query(_ sql: String, _ parameters: [SQLValue] = []) throws(CoreError) -> [[SQLValue]] {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, parameter) in parameters.enumerated() {
            let position = Int32(index + 1)
            switch parameter {
            case .null: sqlite3_bind_null(statement, position)
            case .int(let value): sqlite3_bind_int64(statement, position, value)
            case .text(let value): sqlite3_bind_text(statement, position, value, -1, csqlite_transient())
            }
        }
        var rows: [[SQLValue]] = []
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_ROW:
                rows.append(
                    (0..<sqlite3_column_count(statement)).map { column in
                        switch sqlite3_column_type(statement, column) {
                        case SQLITE_NULL: .null
                        case SQLITE_INTEGER: .int(sqlite3_column_int64(statement, column))
                        default: .text(String(cString: sqlite3_column_text(statement, column)))
                        }
                    })
            case SQLITE_DONE:
                return rows
            default:
                throw lastError(sql)
            }
        }
    }

    /// Runs `body` in one transaction: committed (and durable) when it returns, rolled back
    /// when it throws.
    func transaction<T>(_ body: () throws(CoreError) -> T) throws(CoreError) -> T {
        try execute("BEGIN IMMEDIATE")
        do throws(CoreError) {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    private func prepared(_ sql: String) throws(CoreError) -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw lastError(sql)
        }
        statements[sql] = statement
        return statement
    }

    /// The connection's last error; a full disk or quota (`SQLITE_FULL`, or an I/O error whose
    /// errno is ENOSPC or EDQUOT) is ``CoreErrorCode/stateFull`` (507).
    private func lastError(_ sql: String) -> CoreError {
        let message = String(cString: sqlite3_errmsg(handle))
        // SQLITE_FULL, or an I/O error (growing the -shm or -wal file) whose cause is a full disk.
        let code = sqlite3_errcode(handle)
        let systemErrno = sqlite3_system_errno(handle)
        if code == SQLITE_FULL
            || (code == SQLITE_IOERR && [.noSpace, .diskQuotaExceeded].contains(Errno(rawValue: systemErrno)))
        {
            return CoreError(
                .stateFull,
                "the filesystem of the state database \(path) is full (\(message)); "
                    + "nothing was changed: free space there and retry"
            )
        }
        return CoreError(.systemError, "state database \(path): \(message) (in: \(sql.prefix(60)))")
    }
}
