import Foundation
import Glibc
import PinTestSupport
import Synchronization
import Testing

@testable import PinCore

/// Transitions that change nothing (releasing an ended lease, revoking a revoking one) while
/// another thread's transition is being committed: they wait for the earlier writes and must
/// then return (issue 8: such a caller once slept forever on the committing caller's ticket).
/// These run on the real SQLite store: the hang was in its group commit. The same race on the
/// in-memory journal, held open deterministically, is in ``LeaseGatedCommitTests``.
@Suite struct LeaseCommitRaceTests {
    /// Holds the thread that commits a transition inside its after-commit actions (the event
    /// log calls observers there) until ``open()``: a commit in flight, for as long as needed.
    private final class CommitGate: Sendable {
        private let armed = Atomic<Bool>(true)
        let entered = DispatchSemaphore(value: 0)
        private let gate = DispatchSemaphore(value: 0)

        /// Called on the committing thread for each published batch; blocks the first one.
        func published() {
            guard armed.exchange(false, ordering: .sequentiallyConsistent) else { return }
            entered.signal()
            gate.wait()
        }

        func open() { gate.signal() }
    }

    /// Runs `body` on a new thread; the semaphore is signalled when it returns.
    private func onThread(_ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            body()
            done.signal()
        }
        return done
    }

    /// The kernel's id of the calling thread (`/proc/thread-self` links to `<pid>/task/<tid>`).
    private static func currentThreadID() -> pid_t {
        let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        return pid_t(link.split(separator: "/").last.flatMap { Int32($0) } ?? 0)
    }

    /// Waits (at most a few seconds) until thread `tid` sleeps, three looks in a row: then it
    /// is inside its wait for the commit, not merely on its way there. If it never seems to
    /// sleep the test goes on anyway: it can then only miss the race, never fail wrongly.
    private func awaitSleeping(_ tid: pid_t) {
        var asleep = 0
        let deadline = ContinuousClock.now + .seconds(5)
        while asleep < 3 && ContinuousClock.now < deadline {
            let stat = (try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8)) ?? ""
            let state = stat.split(separator: ")").last?.split(separator: " ").first
            asleep = state == "S" ? asleep + 1 : 0
            usleep(1000)
        }
    }

    @Test func noOpTransitionsDuringACommitReturnOnceItIsDone() throws {
        let harness = try LeaseBookHarness(.sqlite)
        defer { harness.close() }
        let book = harness.book
        try harness.makePin("pin_a")
        let ended = try harness.grant(on: "pin_a")
        _ = try book.release(id: ended.id, caller: .admin)
        let revoking = try harness.grant(on: "pin_a")
        _ = try book.revoke(id: revoking.id, reason: nil, graceSeconds: 30)
        let active = try harness.grant(on: "pin_a")

        let gate = CommitGate()
        let observation = harness.events.observe { gate.published() }
        defer { observation.cancel() }
        // A real transition: its thread leads the commit and stops in its actions.
        let committer = onThread { _ = try? book.revoke(id: active.id, reason: nil, graceSeconds: 30) }
        #expect(gate.entered.wait(timeout: .now() + 60) == .success)
        // No-op transitions from other threads, each once it is asleep in its wait.
        let tids = Mutex<[pid_t]>([])
        var noOps: [DispatchSemaphore] = []
        for index in 0..<4 {
            noOps.append(
                onThread {
                    tids.withLock { $0.append(Self.currentThreadID()) }
                    if index % 2 == 0 {
                        _ = try? book.release(id: ended.id, caller: .admin)
                    } else {
                        _ = try? book.revoke(id: revoking.id, reason: nil, graceSeconds: nil)
                    }
                })
            #expect(waitUntil { tids.withLock { $0.count } == index + 1 })
            awaitSleeping(tids.withLock { $0[index] })
        }
        gate.open()
        let deadline = DispatchTime.now() + 60  // one for all: a hang costs a minute, not one per thread
        #expect(committer.wait(timeout: deadline) == .success, "the committing transition never returned")
        for (index, noOp) in noOps.enumerated() {
            #expect(
                noOp.wait(timeout: deadline) == .success, "no-op transition \(index) never returned after the commit")
        }
        #expect(harness.state(active.id) == .revoking)
    }

    /// The same race without a gate, many times over: grants, renewals and releases on some
    /// threads, no-op releases and revokes on others; every call returns.
    @Test func manyNoOpsRacingCommitsAllReturn() throws {
        let harness = try LeaseBookHarness(.sqlite)
        defer { harness.close() }
        let book = harness.book
        try harness.makePin("pin_a")
        let ended = try harness.grant(on: "pin_a")
        _ = try book.release(id: ended.id, caller: .admin)
        let revoking = try harness.grant(on: "pin_a")
        _ = try book.revoke(id: revoking.id, reason: nil, graceSeconds: 60)
        let failures = Mutex<[String]>([])
        var threads: [DispatchSemaphore] = []
        for worker in 0..<6 {
            threads.append(
                onThread {
                    for _ in 0..<60 {
                        do {
                            if worker < 2 {
                                let lease = try harness.grant(on: "pin_a")
                                _ = try book.renew(id: lease.id, ttlSeconds: nil, caller: .admin)
                                _ = try book.release(id: lease.id, caller: .admin)
                            } else if worker % 2 == 0 {
                                _ = try book.release(id: ended.id, caller: .admin)
                            } else {
                                _ = try book.revoke(id: revoking.id, reason: nil, graceSeconds: nil)
                            }
                        } catch {
                            failures.withLock { $0.append("\(error)") }
                        }
                    }
                })
        }
        let deadline = DispatchTime.now() + 120
        for (index, thread) in threads.enumerated() {
            #expect(thread.wait(timeout: deadline) == .success, "worker \(index) never finished")
        }
        #expect(failures.withLock { $0 } == [])
        #expect(book.liveCount == 1)
        #expect(book.indexDiscrepancies() == [])
    }
}
