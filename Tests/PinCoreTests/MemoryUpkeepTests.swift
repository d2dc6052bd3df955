import Foundation
import Logging
import PinStore
import Synchronization
import Testing

@testable import PinCore

/// Freed memory is given back to the kernel by the once-a-second upkeep, at most once per
/// interval (issue 12: RssAnon stayed high after a load burst).
@Suite struct MemoryUpkeepTests {
    @Test func itReleasesAtMostOncePerInterval() {
        let calls = Mutex(0)
        let upkeep = MemoryUpkeep(interval: .seconds(10)) { calls.withLock { $0 += 1 } }
        let start = ContinuousClock.now
        #expect(upkeep.run(now: start), "the first run did not release")
        #expect(!upkeep.run(now: start + .seconds(1)), "released again 1 s later")
        #expect(!upkeep.run(now: start + .milliseconds(9_999)))
        #expect(upkeep.run(now: start + .seconds(10)), "did not release once the interval had passed")
        #expect(upkeep.run(now: start + .seconds(25)))
        #expect(calls.withLock { $0 } == 3)
        #expect(upkeep.releases == 3)
    }

    /// The running core's checkpoint task calls the process's upkeep (every second; it releases
    /// whenever its interval has passed, so within about 11 s of the core starting to run).
    @Test func theRunningCoreReleasesFreedMemory() async throws {
        let fixture = try PinCoreServiceTests.Fixture()
        defer { fixture.close() }
        let before = MemoryUpkeep.process.releases
        let core = fixture.core
        let running = Task { [core] in try await core.run() }
        defer { running.cancel() }
        let released = try await ServiceLifecycleTests.eventually { MemoryUpkeep.process.releases > before }
        #expect(released, "no release of freed memory while the core ran")
        running.cancel()
        _ = await running.result
    }
}
