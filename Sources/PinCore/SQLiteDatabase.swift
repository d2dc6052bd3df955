import CSQLite
import Glibc

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
final class SQLiteDatabase {
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
        for file in [path, path + "-wal", path + "-shm"] { _ = chmod(file, 0o600) }
        sqlite3_busy_timeout(handle, 5000)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
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
                rows.append((0..<sqlite3_column_count(statement)).map { column in
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
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else { throw lastError(sql) }
        statements[sql] = statement
        return statement
    }

    private func lastError(_ sql: String) -> CoreError {
        let message = String(cString: sqlite3_errmsg(handle))
        // SQLITE_FULL, or an I/O error (growing the -shm or -wal file) whose cause is a full disk.
        let code = sqlite3_errcode(handle)
        let systemErrno = sqlite3_system_errno(handle)
        if code == SQLITE_FULL || (code == SQLITE_IOERR && (systemErrno == ENOSPC || systemErrno == EDQUOT)) {
            return CoreError(
                .stateFull,
                "the filesystem of the state database \(path) is full (\(message)); nothing was changed: free space there and retry")
        }
        return CoreError(.systemError, "state database \(path): \(message) (in: \(sql.prefix(60)))")
    }
}
