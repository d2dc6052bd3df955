import Glibc
import Testing

@testable import PinCore
@testable import PinStore

/// A state database that cannot grow answers `state-full` (507), not `system-error` (500).
@Suite struct SQLiteFullTests {
    @Test func aDatabaseThatCannotGrowReportsStateFull() throws {
        var template = Array("/tmp/pinlease-sqlite-full-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        defer {
            for name in ["pinlease.db", "pinlease.db-wal", "pinlease.db-shm"] { unlink(directory + "/" + name) }
            rmdir(directory)
        }
        let database = try SQLiteDatabase(path: directory + "/pinlease.db")
        try database.execute("CREATE TABLE t (v TEXT)")
        // SQLITE_FULL without filling a filesystem: the database may not grow past its pages now.
        let pages = try database.query("PRAGMA page_count").first?.first?.int ?? 0
        try database.execute("PRAGMA max_page_count = \(pages + 1)")
        var failure: CoreError?
        for _ in 0..<1000 {
            do throws(CoreError) {
                try database.execute("INSERT INTO t VALUES (?)", [.text(String(repeating: "x", count: 2000))])
            } catch {
                failure = error
                break
            }
        }
        #expect(failure?.code == .stateFull, "\(String(describing: failure))")
    }
}
