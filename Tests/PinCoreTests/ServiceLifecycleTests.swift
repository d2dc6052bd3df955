import Foundation
import Logging
import PinWebhooks
import ServiceLifecycle
import Synchronization
import Testing

@testable import PinCore

/// The services of the core stop on graceful shutdown or cancellation, and their threads are
/// joined before `run()` returns: no thread outlives the service that started it.
@Suite struct ServiceLifecycleTests {
    /// Threads of this process named `name` right now (`/proc/self/task/*/comm`).
    static func threads(named name: String) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)
            return comm?.trimmingCharacters(in: .whitespacesAndNewlines) == name
        }.count
    }

    /// A thread name no other test uses (at most 15 bytes: the kernel keeps no more).
    static func uniqueName(_ prefix: String) -> String {
        prefix + "-" + String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    }

    /// Waits (without blocking the test pool) until `condition` holds; false after `timeout`,
    /// which only a broken service reaches.
    static func eventually(timeout: Duration = .seconds(60), _ condition: () -> Bool) async throws -> Bool {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    /// Runs `services` in a group until `body` returns, then shuts the group down gracefully;
    /// false when the group did not end within the guard (a service that never stops).
    static func runGroup(
        _ services: [any Service], _ body: () async throws -> Void
    ) async throws -> Bool {
        let configuration = ServiceGroupConfiguration(services: services, logger: Logger(label: "lifecycle-test"))
        let group = ServiceGroup(configuration: configuration)
        let running = Task { try await group.run() }
        try await body()
        await group.triggerGracefulShutdown()
        return try await finishes(running)
    }

    /// Whether `task` ends within a guard of 60 s (only a service that cannot stop misses it).
    static func finishes(_ task: Task<Void, any Error>) async throws -> Bool {
        let ended = Mutex(false)
        let waiter = Task {
            _ = await task.result
            ended.withLock { $0 = true }
        }
        defer { waiter.cancel() }
        return try await eventually { ended.withLock { $0 } }
    }

    @Test func theDeadlineTimerFiresWhileItRunsAndItsThreadEndsWithTheGroup() async throws {
        let name = Self.uniqueName("tmr")
        let timer = DeadlineTimer<String>(name: name)
        let fired = Mutex<[String]>([])
        timer.onFire { keys in fired.withLock { $0 += keys } }
        timer.set("due", at: WallClock.nowMilliseconds())  // set before it runs: fires once it does
        #expect(Self.threads(named: name) == 0, "a timer that was only made started a thread")
        let stopped = try await Self.runGroup([timer]) { () async throws in
            let firedOnce = try await Self.eventually { fired.withLock { $0 } == ["due"] }
            #expect(firedOnce)
            #expect(Self.threads(named: name) == 1)
        }
        #expect(stopped, "the timer did not stop on graceful shutdown")
        #expect(Self.threads(named: name) == 0, "the timer's thread outlived run()")
    }

    @Test func aPeriodicTaskStopsOnGracefulShutdownAndItsThreadIsJoined() async throws {
        let name = Self.uniqueName("per")
        let runs = Mutex(0)
        let task = PeriodicTask(name: name, interval: .seconds(3600)) { runs.withLock { $0 += 1 } }
        let stopped = try await Self.runGroup([task]) { () async throws in
            let ranOnce = try await Self.eventually { runs.withLock { $0 } == 1 }
            #expect(ranOnce)
            #expect(Self.threads(named: name) == 1)
        }
        #expect(stopped, "an hour-long wait was not cut short by graceful shutdown")
        #expect(Self.threads(named: name) == 0, "the task's thread outlived run()")
    }

    @Test func cancellingTheTaskStopsAServiceAndJoinsItsThread() async throws {
        let name = Self.uniqueName("cnc")
        let task = PeriodicTask(name: name, interval: .seconds(3600)) {}
        let running = Task { try await task.run() }
        #expect(try await Self.eventually { Self.threads(named: name) == 1 })
        running.cancel()
        #expect(try await Self.finishes(running), "cancellation did not stop the task")
        #expect(Self.threads(named: name) == 0, "the task's thread outlived run()")
    }

    @Test func aServiceStoppedBeforeItRunsStartsNoThread() async throws {
        let name = Self.uniqueName("pre")
        let timer = DeadlineTimer<String>(name: name)
        timer.stop()
        try await timer.run()  // returns at once
        #expect(Self.threads(named: name) == 0)
    }

    @Test func theLeaseBreakMonitorCanBeStopped() async throws {
        try LeaseBreakMonitor.install()
        let monitor = LeaseBreakMonitor { _ in }
        #expect(try await Self.runGroup([monitor]) {}, "the lease-break monitor did not stop on graceful shutdown")
        let cancelled = LeaseBreakMonitor { _ in }
        let running = Task { try await cancelled.run() }
        running.cancel()
        #expect(try await Self.finishes(running), "the lease-break monitor did not stop on cancellation")
    }

    @Test func theWebhookSenderStopsOnGracefulShutdown() async throws {
        let configuration = WebhookConfiguration(allowList: try WebhookAllowList(prefixes: []))
        let sender = WebhookSender(
            configuration: configuration, logger: Logger(label: "lifecycle-test"),
            reports: WebhookDeliveryReports(attempted: { _ in }, finished: { _, _ in }, reopened: { _, _ in }))
        #expect(try await Self.runGroup([sender]) {}, "the webhook sender did not stop on graceful shutdown")
        // Stopped for good: a message sent now is ignored, and a second run returns at once.
        sender.send(
            WebhookMessage(
                id: "msg_1", leaseID: "lease_1", eventType: .leaseRevoked, url: "http://127.0.0.1:9/h",
                secret: "whsec_x",
                body: [], retryUntil: 0, attemptsAfterDeadline: 0, followsRetrySchedule: true, attemptsMade: 0,
                firstAttemptAt: nil))
        #expect(sender.pendingCount == 0)
        try await sender.run()
    }

    @Test func aChangeSignalWakesAWaiterAndGivesUpAtTheDeadline() async throws {
        let signal = ChangeSignal()
        let value = Atomic(0)
        let woken = Task.detached {
            signal.wait(until: Date(timeIntervalSinceNow: 120)) { value.load(ordering: .relaxed) == 1 }
        }
        value.store(1, ordering: .relaxed)
        signal.changed()
        #expect(await woken.value)
        #expect(!signal.wait(until: Date(timeIntervalSinceNow: 0.05)) { false })
    }
}
