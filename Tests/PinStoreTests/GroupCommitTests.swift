import Foundation
import PinJSON
import PinWire
import Synchronization
import Testing

@testable import PinCore
@testable import PinStore

@Suite struct GroupCommitTests {
    private func withCommits(_ body: (GroupCommit, String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pinlease-commit-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try SQLiteDatabase(path: directory + "/test.db")
        try database.execute("CREATE TABLE rows (n INTEGER PRIMARY KEY)")
        try body(GroupCommit(database: database), directory + "/test.db")
    }

    @Test func concurrentWritesAreAllDurableAndShareCommits() throws {
        try withCommits { commits, path in
            let group = DispatchGroup()
            let failures = Mutex(0)
            for n in 0..<400 {
                group.enter()
                Thread.detachNewThread {
                    do {
                        try commits.submit { database throws(CoreError) in
                            try database.execute("INSERT INTO rows VALUES (?)", [.int(Int64(n))])
                        }
                    } catch {
                        failures.withLock { $0 += 1 }
                    }
                    group.leave()
                }
            }
            group.wait()
            #expect(failures.withLock { $0 } == 0)
            // A second connection sees every row: they were committed, not only written.
            let reader = try SQLiteDatabase(path: path)
            #expect(try reader.query("SELECT COUNT(*) FROM rows").first?.first?.int == 400)
        }
    }

    @Test func aFailingWriteDoesNotFailTheOthersOfItsBatch() throws {
        try withCommits { commits, path in
            let first = commits.enqueue { database throws(CoreError) in
                try database.execute("INSERT INTO rows VALUES (1)")
            }
            let duplicate = commits.enqueue { database throws(CoreError) in
                try database.execute("INSERT INTO rows VALUES (1)")
            }
            let third = commits.enqueue { database throws(CoreError) in
                try database.execute("INSERT INTO rows VALUES (3)")
            }
            try commits.wait(first)
            #expect(throws: CoreError.self) { try commits.wait(duplicate) }
            try commits.wait(third)
            let reader = try SQLiteDatabase(path: path)
            #expect(try reader.query("SELECT n FROM rows ORDER BY n").map { $0[0].int } == [1, 3])
        }
    }

    /// A write whose work blocks until `open()`: holds a commit in flight for as long as a test needs.
    private final class GatedWrite: Sendable {
        let started = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        func work(_ database: SQLiteDatabase) throws(CoreError) {
            started.signal()
            gate.wait()
            try database.execute("INSERT INTO rows VALUES (1000)")
        }
        func open() { gate.signal() }
    }

    /// Waits on `ticket` from `count` new threads; the group is left when each returns.
    private func waitFromThreads(
        _ commits: GroupCommit, _ ticket: GroupCommit.Ticket, count: Int, _ group: DispatchGroup
    ) {
        for _ in 0..<count {
            group.enter()
            Thread.detachNewThread {
                try? commits.wait(ticket)
                group.leave()
            }
        }
    }

    /// Polls until `ticket` has `count` waiters (a condition, not a delay).
    private func awaitWaiters(_ commits: GroupCommit, _ ticket: GroupCommit.Ticket, _ count: Int) {
        let deadline = Date().addingTimeInterval(60)
        while commits.waiterCount(ticket) < count && Date() < deadline { usleep(1000) }
    }

    @Test func twoWaitersOfTheLeadersOwnTicketAreBothWoken() throws {
        try withCommits { commits, _ in
            let gated = GatedWrite()
            let ticket = commits.enqueue { database throws(CoreError) in try gated.work(database) }
            let group = DispatchGroup()
            waitFromThreads(commits, ticket, count: 1, group)
            gated.started.wait()  // the first waiter leads and is inside the commit
            waitFromThreads(commits, ticket, count: 1, group)
            awaitWaiters(commits, ticket, 2)
            #expect(commits.waiterCount(ticket) == 2)
            gated.open()
            #expect(
                group.wait(timeout: .now() + 60) == .success, "a second waiter of the leader's ticket was never woken")
        }
    }

    @Test func twoWaitersOfAPendingTicketAreBothWoken() throws {
        try withCommits { commits, _ in
            let gated = GatedWrite()
            let first = commits.enqueue { database throws(CoreError) in try gated.work(database) }
            let group = DispatchGroup()
            waitFromThreads(commits, first, count: 1, group)
            gated.started.wait()  // a commit is in flight
            let second = commits.enqueue { database throws(CoreError) in
                try database.execute("INSERT INTO rows VALUES (2)")
            }
            waitFromThreads(commits, second, count: 2, group)
            awaitWaiters(commits, second, 2)
            #expect(commits.waiterCount(second) == 2)
            gated.open()
            #expect(
                group.wait(timeout: .now() + 60) == .success,
                "a waiter of a ticket committed by another waiter was never woken")
        }
    }

    @Test func aBarrierIsDoneOnlyOnceTheWritesBeforeItAre() throws {
        try withCommits { commits, path in
            #expect(commits.barrier() == nil)  // nothing pending: nothing to wait for
            let gated = GatedWrite()
            let write = commits.enqueue { database throws(CoreError) in try gated.work(database) }
            let group = DispatchGroup()
            waitFromThreads(commits, write, count: 1, group)
            gated.started.wait()
            let barrier = try #require(commits.barrier())
            let passed = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                try? commits.wait(barrier)
                passed.signal()
            }
            awaitWaiters(commits, barrier, 1)
            #expect(passed.wait(timeout: .now()) == .timedOut)  // the write before it is still in flight
            gated.open()
            #expect(passed.wait(timeout: .now() + 60) == .success)
            let reader = try SQLiteDatabase(path: path)
            #expect(try reader.query("SELECT COUNT(*) FROM rows").first?.first?.int == 1)
            #expect(group.wait(timeout: .now() + 60) == .success)
        }
    }

    @Test func afterCommitActionsRunInEnqueueOrderOnlyForCommittedWrites() throws {
        try withCommits { commits, _ in
            let order = Mutex<[Int]>([])
            var tickets: [GroupCommit.Ticket] = []
            for n in 0..<50 {
                tickets.append(
                    commits.enqueue(
                        { database throws(CoreError) in
                            if n == 7 { throw CoreError(.systemError, "refused") }
                            try database.execute("INSERT INTO rows VALUES (?)", [.int(Int64(n))])
                        }, afterCommit: { order.withLock { $0.append(n) } }))
            }
            for ticket in tickets { try? commits.wait(ticket) }
            #expect(order.withLock { $0 } == (0..<50).filter { $0 != 7 })
        }
    }
}

@Suite struct EventLogTests {
    private func event(_ sequence: UInt64, holder: String? = "h") -> Event {
        Event(
            sequence: sequence, type: .leaseGranted, timestamp: "t", data: ["n": .int(Int64(sequence))], holder: holder)
    }

    @Test func readsAfterASequenceFromMemoryAndFromOlderStorage() {
        let stored = (1...100).map { event(UInt64($0)) }
        let log = EventLog(capacity: 10, lastSequence: 90) { after, limit in
            Array(stored.filter { $0.sequence > after }.prefix(limit))
        }
        log.publish((91...100).map { event(UInt64($0)) })
        #expect(log.lastSequence == 100)
        #expect(log.events(after: 95, limit: 100).map(\.sequence) == Array(96...100))
        #expect(log.events(after: 0, limit: 3).map(\.sequence) == [1, 2, 3])
        #expect(log.events(after: 85, limit: 100).map(\.sequence) == Array(86...100))
        #expect(log.events(after: 100, limit: 10).isEmpty)
        log.publish((101...125).map { event(UInt64($0)) })  // the ring wraps
        #expect(log.events(after: 118, limit: 100).map(\.sequence) == Array(119...125))
    }

    @Test func observersAreWokenUntilCancelled() {
        let log = EventLog()
        let wakes = Mutex(0)
        let observation = log.observe { wakes.withLock { $0 += 1 } }
        log.publish([event(1)])
        observation.cancel()
        log.publish([event(2)])
        #expect(wakes.withLock { $0 } == 1)
    }
}

@Suite struct LeasePolicyTests {
    @Test func boundsAreEnforcedNotClamped() throws {
        var policy = LeasePolicy()
        policy.ttlMinSeconds = 5
        policy.ttlMaxSeconds = 100
        policy.ttlDefaultSeconds = 10
        policy.graceMaxSeconds = 30
        policy.graceDefaultSeconds = 7
        try policy.validate()
        #expect(try policy.ttl(nil) == 10)
        #expect(try policy.ttl(100) == 100)
        #expect(throws: CoreError.self) { try policy.ttl(4) }
        #expect(throws: CoreError.self) { try policy.ttl(101) }
        #expect(try policy.grace(nil) == 7)
        #expect(try policy.grace(nil, fallback: 3) == 3)
        #expect(throws: CoreError.self) { try policy.grace(31) }
        #expect(throws: CoreError.self) { try policy.grace(-1) }
        policy.ttlDefaultSeconds = 200
        #expect(throws: CoreError.self) { try policy.validate() }
    }

    @Test func holderNames() throws {
        try LeaseBook.validateHolder("rdma-server_1.node:a@x")
        for bad in ["", "a b", "é", String(repeating: "a", count: 129), "a/b"] {
            #expect(throws: CoreError.self) { try LeaseBook.validateHolder(bad) }
        }
    }

    @Test func wallClockFormatsRFC3339WithMilliseconds() {
        #expect(WallClock.format(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(WallClock.format(milliseconds: 1_614_265_330_042) == "2021-02-25T15:02:10.042Z")
    }
}
