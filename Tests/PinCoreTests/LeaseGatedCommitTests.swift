import Foundation
import PinTestSupport
import Synchronization
import Testing

@testable import PinCore

/// Issue 8's race, made deterministic with the in-memory journal's gate: a transition's commit
/// is held open (taken from the queue, not yet durable) while transitions that change nothing
/// (a release of an ended lease, a revoke of a revoking one) are asked for. Each must wait for
/// that commit, since its answer describes the state earlier writes made, and must return
/// once it is durable (a no-op once slept forever on another caller's ticket).
@Suite struct LeaseGatedCommitTests {
    enum NoOp: String, CaseIterable, CustomTestStringConvertible {
        case releaseOfAnEndedLease, revokeOfARevokingLease

        var testDescription: String { rawValue }
    }

    /// A book with an ended, a revoking and an active lease on one pin.
    private struct Scene {
        let harness: LeaseBookHarness
        let journal: MemoryLeaseJournal
        let ended: Lease
        let revoking: Lease
        let active: Lease

        init() throws {
            harness = try LeaseBookHarness(.memory)
            journal = try #require(harness.journal)
            try harness.makePin("pin_a")
            ended = try harness.grant(on: "pin_a")
            _ = try harness.book.release(id: ended.id, caller: .admin)
            revoking = try harness.grant(on: "pin_a")
            _ = try harness.book.revoke(id: revoking.id, reason: nil, graceSeconds: 30)
            active = try harness.grant(on: "pin_a")
        }

        func noOp(_ kind: NoOp) throws {
            switch kind {
            case .releaseOfAnEndedLease: _ = try harness.book.release(id: ended.id, caller: .admin)
            case .revokeOfARevokingLease: _ = try harness.book.revoke(id: revoking.id, reason: nil, graceSeconds: nil)
            }
        }

        /// Starts revoking the active lease on a thread of its own and returns once its commit
        /// is held in the gate (taken from the queue, not durable).
        func holdARevocationInFlight() -> DispatchSemaphore {
            journal.gate.close()
            let committer = onNewThread { [harness, active] in
                _ = try? harness.book.revoke(id: active.id, reason: nil, graceSeconds: 30)
            }
            #expect(waitUntil { journal.gate.heldCount == 1 }, "the revocation's commit never reached the gate")
            return committer
        }
    }

    @Test(arguments: NoOp.allCases)
    func aNoOpTransitionAnswersOnlyOnceTheCommitInFlightIsDurable(_ kind: NoOp) throws {
        let scene = try Scene()
        defer { scene.harness.close() }
        let journal = scene.journal
        let committer = scene.holdARevocationInFlight()
        #expect(try journal.lease(id: scene.active.id)?.state == .active, "held: not durable yet")

        let returned = Atomic<Bool>(false)
        let seenOnReturn = Mutex<LeaseState?>(nil)
        let noOp = onNewThread {
            try? scene.noOp(kind)
            seenOnReturn.withLock { $0 = try? journal.lease(id: scene.active.id)?.state }
            returned.store(true, ordering: .sequentiallyConsistent)
        }
        // It waits behind the commit in flight (beside the committer), unless it answers at once.
        #expect(waitUntil { journal.waiterCount == 2 || returned.load(ordering: .sequentiallyConsistent) })
        let answeredEarly = returned.load(ordering: .sequentiallyConsistent)
        #expect(!answeredEarly, "\(kind) answered while a commit was in flight")

        journal.gate.open()
        let deadline = DispatchTime.now() + 30
        #expect(committer.wait(timeout: deadline) == .success, "the committing transition never returned")
        #expect(noOp.wait(timeout: deadline) == .success, "\(kind) never returned after the commit was durable")
        #expect(seenOnReturn.withLock { $0 } == .revoking, "\(kind) answered before the commit in flight was durable")
        #expect(scene.harness.state(scene.active.id) == .revoking)
        #expect(journal.waiterCount == 0 && journal.pendingCount == 0)
    }

    /// Several no-ops and a real transition queued behind a held commit: every one returns
    /// once the gate opens, the real one durable, the no-ops having changed nothing.
    @Test func noOpsAndWritesQueuedBehindAHeldCommitAllReturn() throws {
        let scene = try Scene()
        defer { scene.harness.close() }
        let journal = scene.journal
        let eventsBefore = scene.harness.events.lastSequence
        let committer = scene.holdARevocationInFlight()
        var callers: [DispatchSemaphore] = []
        let answered = Atomic<Int>(0)  // callers that returned (none may while the commit is held)
        for index in 0..<4 {
            callers.append(
                onNewThread {
                    try? scene.noOp(index % 2 == 0 ? .releaseOfAnEndedLease : .revokeOfARevokingLease)
                    answered.add(1, ordering: .sequentiallyConsistent)
                })
            #expect(
                waitUntil { journal.waiterCount == index + 2 || answered.load(ordering: .sequentiallyConsistent) > 0 })
        }
        let granted = Mutex<Lease?>(nil)
        callers.append(
            onNewThread {
                granted.withLock { $0 = try? scene.harness.grant(on: "pin_a") }
                answered.add(1, ordering: .sequentiallyConsistent)
            })
        #expect(waitUntil { journal.waiterCount == 6 || answered.load(ordering: .sequentiallyConsistent) > 0 })
        let answeredEarly = answered.load(ordering: .sequentiallyConsistent)
        #expect(answeredEarly == 0, "callers answered while the commit before them was in flight")
        #expect(journal.gate.heldCount == 1, "nothing else committed meanwhile")

        journal.gate.open()
        let deadline = DispatchTime.now() + 30
        #expect(committer.wait(timeout: deadline) == .success)
        for (index, caller) in callers.enumerated() {
            #expect(caller.wait(timeout: deadline) == .success, "caller \(index) never returned")
        }
        let grant = try #require(granted.withLock { $0 })
        #expect(try journal.lease(id: grant.id)?.state == .active)
        #expect(scene.harness.eventTypes.suffix(2) == [.leaseRevoking, .leaseGranted])
        #expect(scene.harness.events.lastSequence == eventsBefore + 2, "the no-ops published nothing")
        #expect(scene.harness.book.indexDiscrepancies() == [])
    }

    /// With nothing queued or in flight, a no-op has nothing to wait for and answers at once.
    @Test(arguments: NoOp.allCases)
    func aNoOpWithNothingInFlightAnswersAtOnce(_ kind: NoOp) throws {
        let scene = try Scene()
        defer { scene.harness.close() }
        scene.journal.gate.close()  // would hold any commit: none may be needed
        let done = onNewThread { try? scene.noOp(kind) }
        #expect(done.wait(timeout: .now() + 30) == .success, "\(kind) waited for a commit although none was in flight")
        scene.journal.gate.open()
    }

    /// A commit that fails (a full state disk) fails its caller, and the book puts the lease
    /// back as stored: memory never runs ahead of what is durable.
    @Test func aFailedCommitLeavesMemoryAsStored() throws {
        let scene = try Scene()
        defer { scene.harness.close() }
        scene.journal.failNextCommit()
        #expect(
            errorCode { _ = try scene.harness.book.revoke(id: scene.active.id, reason: nil, graceSeconds: 30) }
                == .stateFull)
        #expect(scene.harness.state(scene.active.id) == .active)
        #expect(try scene.journal.lease(id: scene.active.id)?.state == .active)
        scene.journal.failNextCommit()
        #expect(errorCode { _ = try scene.harness.grant(on: "pin_a") } == .stateFull)
        #expect(scene.harness.book.liveCount == 2, "the grant that was never durable is forgotten")
        #expect(try scene.harness.pins.pin(id: "pin_a").leaseIDs.count == 2)
        _ = try scene.harness.book.revoke(id: scene.active.id, reason: nil, graceSeconds: 30)
        #expect(scene.harness.settledState(scene.active.id) == .revoking, "the next transition succeeds")
        #expect(scene.harness.book.indexDiscrepancies() == [])
    }
}

/// Runs `body` on a new thread; the semaphore is signalled when it returns.
func onNewThread(_ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        body()
        done.signal()
    }
    return done
}
