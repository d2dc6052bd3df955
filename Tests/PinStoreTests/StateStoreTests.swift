import Foundation
import Glibc
import PinJSON
import PinTestSupport
import Testing

@testable import PinCore
@testable import PinStore

/// `StateStore`: locks, pins and operations saved, replaced, listed and deleted, each change
/// visible to a store opened afresh on the same directory (as after a restart).
@Suite struct StateStoreTests {
    static func lock(_ relative: String, inode: UInt64 = 1, phase: LockRecord.Phase = .locked) -> LockRecord {
        LockRecord(
            path: RootedPath(root: "data", relative: relative), device: 2049, inode: inode, flagSetByDaemon: true,
            phase: phase, lockedAt: "2026-12-01T00:00:00.000Z")
    }

    static func pin(_ id: String, createdAt: String) -> PinRecord {
        PinRecord(
            id: id, path: RootedPath(root: "data", relative: "a.bin"), file: FileID(device: 2049, inode: 1), offset: 0,
            length: 4096, access: .read, longTerm: .ifPossible, autoPin: false, createdAt: createdAt)
    }

    static func operation(_ id: String, _ state: OperationState, createdAt: String) -> OperationRecord {
        OperationRecord(
            id: id, kind: "prepare", path: "data:a.bin", state: state, doneBytes: 0, totalBytes: 4096,
            createdAt: createdAt)
    }

    @Test func locksAreSavedReplacedListedByPathAndDeleted() throws {
        let directory = StoreTestDirectory("statestore")
        defer { directory.remove() }
        let store = try StateStore(directory: directory.path)
        #expect(try store.locks().isEmpty)
        try store.saveLock(Self.lock("b.bin", inode: 2, phase: .locking))
        try store.saveLock(Self.lock("a.bin", inode: 1))
        var daemonWriters = Self.lock("b.bin", inode: 2)
        daemonWriters.writers = .daemon
        daemonWriters.flagSetByDaemon = false
        try store.saveLock(daemonWriters)  // the same path: replaced, not added
        #expect(try StateStore(directory: directory.path).locks() == [Self.lock("a.bin", inode: 1), daemonWriters])
        try store.deleteLock(RootedPath(root: "data", relative: "a.bin"))
        try store.deleteLock(RootedPath(root: "data", relative: "never-locked"))  // deleting nothing is no error
        #expect(try StateStore(directory: directory.path).locks() == [daemonWriters])
    }

    @Test func aViolationRoundTripsWithItsDetectionTime() throws {
        let directory = StoreTestDirectory("statestore")
        defer { directory.remove() }
        let store = try StateStore(directory: directory.path)
        var record = Self.lock("a.bin")
        record.violation = FileViolation(
            code: "immutable-flag-cleared", detail: "chattr -i \"x\"", detectedAt: 1_764_000_000_001)
        try store.saveLock(record)
        let read = try #require(try StateStore(directory: directory.path).locks().first)
        #expect(read.violation == record.violation)
        #expect(read == record)
    }

    @Test func pinsAreListedByCreationTimeThenIDAndDeleted() throws {
        let directory = StoreTestDirectory("statestore")
        defer { directory.remove() }
        let store = try StateStore(directory: directory.path)
        let late = Self.pin("pin_a", createdAt: "2026-12-01T00:00:02.000Z")
        let early = Self.pin("pin_z", createdAt: "2026-12-01T00:00:01.000Z")
        var tie = Self.pin("pin_b", createdAt: "2026-12-01T00:00:02.000Z")
        tie.autoPin = true
        tie.longTerm = .required
        tie.access = .write
        tie.offset = 1 << 40  // above 32 bits
        for record in [late, early, tie] { try store.savePin(record) }
        #expect(try StateStore(directory: directory.path).pins() == [early, late, tie])
        try store.deletePin(id: "pin_a")
        #expect(try store.pins().map(\.id) == ["pin_z", "pin_b"])
    }

    @Test func operationsRoundTripAndUpdateInPlace() throws {
        let directory = StoreTestDirectory("statestore")
        defer { directory.remove() }
        let store = try StateStore(directory: directory.path)
        var record = Self.operation("op_1", .running, createdAt: "2026-12-01T00:00:01.000Z")
        try store.saveOperation(record)
        record.state = .failed
        record.doneBytes = 1024
        record.finishedAt = "2026-12-01T00:00:02.000Z"
        record.error = CoreError(.noSpace, "the filesystem is full")
        try store.saveOperation(record)
        let read = try #require(try StateStore(directory: directory.path).operation(id: "op_1"))
        #expect(read.state == .failed && read.doneBytes == 1024 && read.totalBytes == 4096 && read.kind == "prepare")
        #expect(
            read.finishedAt == record.finishedAt && read.error?.code == .noSpace
                && read.error?.detail == "the filesystem is full"
                && read.result == nil)
        #expect(try store.operations().count == 1)
        #expect(try store.operation(id: "op_2") == nil)

        var done = Self.operation("op_2", .succeeded, createdAt: "2026-12-01T00:00:03.000Z")
        var bytes = LayoutBytes()
        (bytes.written, bytes.unwritten, bytes.hole) = (4096, 8192, 4096)
        done.result = .prepared(
            LayoutReport(
                path: RootedPath(root: "data", relative: "a.bin"), size: 16384, blockSize: 4096, fsType: "xfs",
                mountPoint: "/srv", dax: false, immutable: false, locked: false, extentSource: "fiemap",
                extentCount: 2, holeCount: 1, bytes: bytes,
                reasons: [
                    NotReadyReason(code: "holes", detail: "1 hole, 4096 bytes", bytes: 4096),
                    NotReadyReason(code: "realtime-device", detail: "on the realtime device", bytes: nil),
                ]))
        try store.saveOperation(done)
        #expect(try store.operation(id: "op_2")?.result == done.result)
        #expect(try store.operations().filter { $0.state == .succeeded }.map(\.id) == ["op_2"])
    }

    /// Pruning keeps the newest operations and every running one, however old.
    @Test func pruningKeepsTheNewestAndEveryRunningOperation() throws {
        let directory = StoreTestDirectory("statestore")
        defer { directory.remove() }
        let store = try StateStore(directory: directory.path)
        try store.saveOperation(Self.operation("op_0", .running, createdAt: "2026-12-01T00:00:00.000Z"))
        for second in 1...5 {
            try store.saveOperation(
                Self.operation("op_\(second)", .succeeded, createdAt: "2026-12-01T00:00:0\(second).000Z"))
        }
        try store.pruneOperations(keeping: 2)
        #expect(Set(try store.operations().map(\.id)) == ["op_0", "op_4", "op_5"])
        try store.pruneOperations(keeping: 0)
        #expect(try store.operations().map(\.id) == ["op_0"])
    }

    /// A row that today's code cannot read (an unknown phase or writers) is skipped, not fatal.
    @Test func anUnreadableRowIsSkipped() throws {
        let directory = StoreTestDirectory("statestore")
        defer { directory.remove() }
        let store = try StateStore(directory: directory.path)
        try store.saveLock(Self.lock("a.bin"))
        do {
            let database = try SQLiteDatabase(path: directory.file("pinlease.db"))
            try database.execute(
                """
                INSERT INTO locked_files (path, root, relative_path, device, inode, flag_set_by_daemon, phase,
                    locked_at, writers)
                VALUES ('data:b.bin', 'data', 'b.bin', 1, 2, 1, 'half-locked', 't', 'none'),
                       ('data:c.bin', 'data', 'c.bin', 1, 3, 1, 'locked', 't', 'everyone')
                """)
        }
        #expect(try store.locks() == [Self.lock("a.bin")])
    }

    /// A stored result that is not a result of its operation's kind (damaged, or from another
    /// version) reads as no result; the operation itself is still there.
    @Test func anUnreadableOperationResultReadsAsNone() throws {
        let directory = StoreTestDirectory("statestore")
        defer { directory.remove() }
        let store = try StateStore(directory: directory.path)
        do {
            let database = try SQLiteDatabase(path: directory.file("pinlease.db"))
            try database.execute(
                """
                INSERT INTO operations (id, kind, path, state, done_bytes, total_bytes, created_at, finished_at, result)
                VALUES ('op_1', 'prepare', 'data:a.bin', 'succeeded', 1, 1, 't1', 't2', '{"ready":true}'),
                       ('op_2', 'prepare', 'data:a.bin', 'succeeded', 1, 1, 't3', 't4', 'not json'),
                       ('op_3', 'shrink', 'data:a.bin', 'succeeded', 1, 1, 't5', 't6', '{}')
                """)
        }
        let read = try store.operations()
        #expect(read.map(\.id).sorted() == ["op_1", "op_2", "op_3"])
        #expect(read.allSatisfy { $0.state == .succeeded && $0.result == nil })
    }

    @Test func aFileThatIsNotADatabaseIsRefusedWithAnError() throws {
        let directory = StoreTestDirectory("statestore")
        defer { directory.remove() }
        try String(repeating: "not a database\n", count: 512).write(
            toFile: directory.file("pinlease.db"), atomically: false, encoding: .utf8)
        var failure: CoreError?
        do throws(CoreError) { _ = try StateStore(directory: directory.path) } catch { failure = error }
        #expect(failure?.code == .systemError)
        #expect(failure?.detail.contains("pinlease.db") == true, "\(String(describing: failure))")
    }

    @Test func theDatabaseIsReadableByItsOwnerOnly() throws {
        let directory = StoreTestDirectory("statestore")
        defer { directory.remove() }
        let store = try StateStore(directory: directory.path)
        try store.saveLock(Self.lock("a.bin"))
        for name in ["pinlease.db", "pinlease.db-wal", "pinlease.db-shm"] {
            var info = stat()
            #expect(stat(directory.file(name), &info) == 0 && info.st_mode & 0o777 == 0o600, "\(name)")
        }
    }
}
