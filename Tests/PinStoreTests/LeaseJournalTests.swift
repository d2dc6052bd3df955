import Foundation
import Testing

@testable import PinCore
@testable import PinStore

/// The SQLite lease store through the domain's ``LeaseJournal`` protocol: what LeaseBook relies on.
@Suite struct LeaseJournalTests {
    private func withJournal(_ body: (any LeaseJournal, String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("pinlease-journal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(try LeaseStore(directory: directory), directory)
    }

    private func lease(_ id: String) -> LeaseRecord {
        LeaseRecord(
            id: id, pinID: "pin_1", path: RootedPath(root: "data", relative: "f"), holder: "h", state: .active,
            ttlSeconds: 60, graceSeconds: 5, autoPin: false, grantedAt: 1, renewedAt: 1, expiresAt: 60_001)
    }

    /// A no-op transition answers after waiting on a barrier: it must cover every write queued
    /// before it (the barrier's wait commits them, as nobody else may lead), and run their
    /// after-commit actions first.
    @Test func aBarrierIsDoneOnlyOnceTheWritesBeforeItAreDurable() throws {
        try withJournal { journal, directory in
            #expect(journal.barrier() == nil, "nothing queued: nothing to wait for")
            let acted = Counter()
            _ = journal.enqueue(leases: [lease("lease_a")], events: [], outbox: [], afterCommit: { acted.add() })
            let barrier = try #require(journal.barrier(), "a write is queued: the barrier must wait for it")
            try journal.wait(barrier)
            #expect(acted.value == 1, "the write's after-commit action ran before the barrier was done")
            // A second connection sees the write: it is committed, not only queued.
            #expect(try LeaseStore(directory: directory).lease(id: "lease_a") == lease("lease_a"))
            #expect(journal.barrier() == nil)
        }
    }

    @Test func aTicketIsDoneOnceItsWriteIsDurable() throws {
        try withJournal { journal, directory in
            try journal.wait(journal.enqueue(leases: [lease("lease_b")]))
            #expect(try LeaseStore(directory: directory).lease(id: "lease_b") == lease("lease_b"))
            #expect(try journal.leases().map(\.id) == ["lease_b"])
        }
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func add() { lock.withLock { count += 1 } }
}
