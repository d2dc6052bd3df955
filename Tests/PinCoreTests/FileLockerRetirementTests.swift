import Foundation
import Glibc
import LinuxFS
import Logging
import PinTestSupport
import Synchronization
import Testing

@testable import PinCore

/// Audit vs unlock and re-lock (issue 8), without root: a verdict about a lock generation that
/// an unlock has retired, or that a re-lock of the same path replaced, is dropped (`.stale`)
/// and never lands on the next generation. The records are an in-memory ``MemoryFileRecords``,
/// whose saves the test can hold or fail. Generations are made by ``FileLocker/recover(open:probe:)``
/// from a "locked" record of a plain file (setting the immutable flag would need root): it is
/// tracked degraded (the flag is not set), which is all the verdict rule looks at.
@Suite struct FileLockerRetirementTests {
    private struct Fixture {
        let directory = StoreTestDirectory("retirement")
        let roots: Roots
        let records = MemoryFileRecords()
        let locker: FileLocker
        let path: RootedPath

        init() throws {
            let data = directory.makeDirectory("data")
            roots = try Roots([RootSpec(name: "data", path: data)])
            locker = FileLocker(store: records, logger: Logger(label: "retirement") { _ in SwiftLogNoOpLogHandler() })
            let fd = open(directory.file("data/a.bin"), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw LinuxError(errno: errno, call: "open", path: "a.bin") }
            close(fd)
            path = try roots.resolve("a.bin")
        }

        /// Records a lock of the file and has the locker take it up: a new generation.
        func lockGeneration() throws -> LockedFile {
            let status = try roots.open(path, flags: .pathOnly).status
            try records.saveLock(
                LockRecord(
                    path: path, device: status.device, inode: status.inode, flagSetByDaemon: false, phase: .locked,
                    lockedAt: "2026-12-01T00:00:00.000Z"))
            try locker.recover(
                open: { [roots] path, flags throws(CoreError) in try roots.open(path, flags: flags) },
                probe: { _, _ in FilesystemProbe(unprobedReason: "not probed in tests") })
            return try #require(locker.lockedFile(path))
        }

        func unlock() throws(CoreError) -> UnlockReport {
            try locker.unlock(path) { [roots] path throws(CoreError) in try roots.open(path, flags: .readOnly) }
        }

        var storedViolation: FileViolation? { (try? records.locks())?.first?.violation }
    }

    static let violation = FileViolation(code: "size-changed", detail: "grew", detectedAt: 1_764_000_000_000)

    @Test func aVerdictDuringAnUnlockOrAfterARelockIsStale() throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        let earlier = try fixture.lockGeneration()

        // The unlock stops while writing its "unlocking" record: retired, still tracked.
        let inUnlock = DispatchSemaphore(value: 0)
        let resume = DispatchSemaphore(value: 0)
        fixture.records.onSave.withLock {
            $0 = { record in
                guard record.phase == .unlocking else { return }
                inUnlock.signal()
                resume.wait()
            }
        }
        let unlocked = onNewThread { [locker = fixture.locker, path = fixture.path, roots = fixture.roots] in
            _ = try? locker.unlock(path) { path throws(CoreError) in try roots.open(path, flags: .readOnly) }
        }
        #expect(inUnlock.wait(timeout: .now() + 30) == .success)
        #expect(fixture.locker.lockedFile(fixture.path) === earlier, "still tracked while the unlock runs")
        #expect(
            fixture.locker.recordViolation(earlier, Self.violation) == .stale,
            "a verdict about a generation being unlocked")
        #expect(earlier.violation == nil && fixture.storedViolation == nil)
        fixture.records.onSave.withLock { $0 = nil }
        resume.signal()
        #expect(unlocked.wait(timeout: .now() + 30) == .success)
        #expect(try fixture.locker.lockedFile(fixture.path) == nil && fixture.records.locks().isEmpty)

        // Locked again: the earlier generation's verdict must not land on the new one.
        let current = try fixture.lockGeneration()
        #expect(current !== earlier && !current.isRetired)
        #expect(
            fixture.locker.recordViolation(earlier, Self.violation) == .stale, "a verdict about a replaced generation")
        #expect(current.violation == nil && fixture.storedViolation == nil)
        #expect(fixture.locker.recordViolation(current, Self.violation) == .first)
        #expect(
            fixture.locker.recordViolation(current, FileViolation(code: "path-removed", detail: "gone")) == .repeated)
        #expect(
            current.violation == Self.violation && fixture.storedViolation == Self.violation,
            "the first verdict, durable")
    }

    /// An unlock that fails before it changed anything leaves the generation current: the
    /// audit's next verdict about it counts.
    @Test func aFailedUnlockMakesTheGenerationCurrentAgain() throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        let locked = try fixture.lockGeneration()
        fixture.records.failNextSave { $0.phase == .unlocking ? CoreError(.stateFull, "full (test)") : nil }
        #expect(errorCode { _ = try fixture.unlock() } == .stateFull)
        #expect(fixture.locker.lockedFile(fixture.path) === locked && !locked.isRetired)
        #expect(fixture.locker.recordViolation(locked, Self.violation) == .first)
        #expect(fixture.storedViolation == Self.violation)
    }
}
