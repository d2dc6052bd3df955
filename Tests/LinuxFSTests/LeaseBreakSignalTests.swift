import Foundation
import Glibc
import Synchronization
import Testing

@testable import LinuxFS

@Suite("lease-break signal")
struct LeaseBreakSignalTests {
    @Test func numberIsSIGRTMINPlusFour() {
        // SIGRTMIN is a glibc function (it reserves signals for its threads), not a constant.
        #expect(LeaseBreakSignal.number == __libc_current_sigrtmin() + 4)
        #expect(LeaseBreakSignal.number <= __libc_current_sigrtmax())
    }

    @Test func installIsIdempotent() throws {
        try LeaseBreakSignal.install()
        let pipe = try LeaseBreakSignal.readDescriptor()
        let before = Self.currentAction()
        try LeaseBreakSignal.install()
        // A second install that made a new pipe would strand every reader of the first one.
        #expect(try LeaseBreakSignal.readDescriptor() == pipe)
        #expect(fcntl(pipe, F_GETFD) >= 0, "the handler's pipe is open")
        let after = Self.currentAction()
        #expect(after.handler == before.handler)
        #expect(after.handler != 0, "a handler is installed")
        #expect(after.flags & Int32(SA_SIGINFO | SA_RESTART) == Int32(SA_SIGINFO | SA_RESTART))
    }

    @Test func childWriterDeliversTheLeasedDescriptor() throws {
        try LeaseBreakSignal.install()
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        _ = try directory.create("watched.bin")
        let filePath = "\(directory.path)/watched.bin"
        let reader = try openBeneath(try directory.open(), "watched.bin", flags: .readOnly)

        // Every subscriber sees every break, so the daemon cores other tests start in this
        // process cannot take this test's notification; others' descriptors are ignored. A
        // bystander subscribed first stands for such a core, whatever else runs meanwhile.
        let bystander = Notifications()
        let bystanding = try LeaseBreakSignal.subscribe { bystander.add($0) }
        defer { bystanding.cancel() }
        let broken = Notifications()
        let subscription = try LeaseBreakSignal.subscribe { broken.add($0) }
        defer { subscription.cancel() }
        try reader.setLeaseSignal(LeaseBreakSignal.number)
        try reader.setLease(.read)
        // Releasing lets the blocked child finish its open at once instead of after 45 s.
        defer { try? reader.setLease(.none) }

        // The child blocks in open(O_WRONLY) until we release the lease.
        let child = try spawnShell("exec 3>>'\(filePath)'")
        var reaped = false
        defer {
            try? reader.setLease(.none)
            var status: Int32 = 0
            if !reaped { _ = waitpid(child, &status, 0) }
        }

        // The break has begun once the kernel reports the lease being downgraded to none (or,
        // after lease-break-time, removed); its notification follows. The deadlines are only
        // for a broken kernel or handler: both normally take milliseconds.
        let breaking = ContinuousClock.now + .seconds(120)
        while try reader.currentLease() != .none, ContinuousClock.now < breaking { usleep(1000) }
        #expect(try reader.currentLease() == .none, "the child's open did not break the lease within 120 s")
        #expect(
            broken.wait(for: reader.fd, timeout: .seconds(120)),
            "no lease-break notification for fd \(reader.fd) within 120 s")
        #expect(bystander.wait(for: reader.fd, timeout: .seconds(120)), "the first subscriber did not see the break")

        try? reader.setLease(.none)  // fails (EAGAIN) only if the kernel already removed the lease itself
        var status: Int32 = 0
        #expect(waitpid(child, &status, 0) == child)
        reaped = true
        #expect(status == 0)  // exited normally with code 0
    }

    @Test func aCancelledSubscriptionIsNotCalled() throws {
        let calls = Mutex(0)
        let subscription = try LeaseBreakSignal.subscribe { _ in calls.withLock { $0 += 1 } }
        subscription.cancel()
        subscription.cancel()
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        _ = try directory.create("watched.bin")
        let reader = try openBeneath(try directory.open(), "watched.bin", flags: .readOnly)
        let witness = Notifications()
        let watching = try LeaseBreakSignal.subscribe { witness.add($0) }
        defer { watching.cancel() }
        try reader.setLeaseSignal(LeaseBreakSignal.number)
        try reader.setLease(.read)
        defer { try? reader.setLease(.none) }
        let child = try spawnShell("exec 3>>'\(directory.path)/watched.bin'")
        defer {
            try? reader.setLease(.none)
            var status: Int32 = 0
            _ = waitpid(child, &status, 0)
        }
        // The dispatch thread hands each break to all subscribers in one pass: once the
        // witness has it, the cancelled one was skipped.
        #expect(witness.wait(for: reader.fd, timeout: .seconds(120)))
        #expect(calls.withLock { $0 } == 0)
    }

    /// The handler address and flags now installed for the lease-break signal.
    private static func currentAction() -> (handler: UInt, flags: Int32) {
        var action = sigaction()
        guard sigaction(LeaseBreakSignal.number, nil, &action) == 0 else { return (0, 0) }
        let handler = unsafeBitCast(action.__sigaction_handler.sa_sigaction, to: UInt.self)
        return (handler, action.sa_flags)
    }

    /// Starts `/bin/sh -c script` with posix_spawn and returns its pid.
    private func spawnShell(_ script: String) throws -> pid_t {
        var pid: pid_t = 0
        let arguments = ["/bin/sh", "-c", script]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let result = posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ)
        if result != 0 { throw LinuxError(errno: result, call: "posix_spawn", path: "/bin/sh") }
        return pid
    }
}

/// The descriptors a subscription was called with, and a wait for one of them.
private final class Notifications: Sendable {
    private let condition = NSCondition()
    private nonisolated(unsafe) var seen: [Int32] = []  // guarded by `condition`

    func add(_ descriptor: Int32) {
        condition.lock()
        seen.append(descriptor)
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until `descriptor` was seen; false when `timeout` ran out first.
    func wait(for descriptor: Int32, timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        condition.lock()
        defer { condition.unlock() }
        while !seen.contains(descriptor) {
            guard ContinuousClock.now < deadline else { return false }
            // NSCondition waits on the wall clock: in slices, measured on the monotonic one.
            _ = condition.wait(until: Date(timeIntervalSinceNow: 1))
        }
        return true
    }
}
