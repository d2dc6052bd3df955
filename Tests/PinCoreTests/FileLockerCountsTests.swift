import LinuxFS
import Logging
import PinStore
import PinTestSupport
import Testing

@testable import PinCore

/// `FileLocker.countsByState` (`GET /v1/status`, `pinlease_locked_files`) is kept as files are
/// tracked, violated and let go rather than counted on each read (issue 12): after every
/// transition it must equal a count of `trackedFiles` by state. Root only (the immutable flag).
@Suite(.enabled(if: StoreTestDirectory.isRoot, "the immutable flag needs root (CAP_LINUX_IMMUTABLE)"))
struct FileLockerCountsTests {
    typealias Fixture = FileLockerTests.Fixture

    /// The counts as `trackedFiles` has them, visiting every file (every state, 0 when none).
    static func recount(_ locker: FileLocker) -> [TrackedFileState: Int] {
        var counts = Dictionary(uniqueKeysWithValues: TrackedFileState.allCases.map { ($0, 0) })
        for file in locker.trackedFiles { counts[TrackedFileState(rawValue: file.state)!, default: 0] += 1 }
        return counts
    }

    static func expectCounts(
        _ locker: FileLocker, locked: Int, degraded: Int, violated: Int, _ step: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let counts = locker.countsByState
        #expect(
            counts == [.locked: locked, .degraded: degraded, .violated: violated], "\(step): \(counts)",
            sourceLocation: sourceLocation)
        #expect(counts == recount(locker), "\(step): kept counts against a recount", sourceLocation: sourceLocation)
    }

    @Test func countsStayExactThroughLockViolationDegradeRestoreAndUnlock() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let violation = FileViolation(code: "size-changed", detail: "grew", detectedAt: 1_764_000_000_000)
        let names = ["a.bin", "b.bin", "c.bin", "d.bin"]
        let paths = try names.map { try fixture.readyFile($0) }
        Self.expectCounts(fixture.locker, locked: 0, degraded: 0, violated: 0, "nothing tracked")
        for path in paths { _ = try fixture.lock(path) }
        Self.expectCounts(fixture.locker, locked: 4, degraded: 0, violated: 0, "four locks")

        let a = try #require(fixture.locker.lockedFile(paths[0]))
        #expect(fixture.locker.recordViolation(a, violation) == .first)
        Self.expectCounts(fixture.locker, locked: 3, degraded: 0, violated: 1, "a violated")
        #expect(fixture.locker.recordViolation(a, violation) == .repeated)
        Self.expectCounts(fixture.locker, locked: 3, degraded: 0, violated: 1, "a violated again")
        a.setRetired(true)
        let b = try #require(fixture.locker.lockedFile(paths[1]))
        b.setRetired(true)
        #expect(fixture.locker.recordViolation(b, violation) == .stale)
        b.setRetired(false)
        Self.expectCounts(fixture.locker, locked: 3, degraded: 0, violated: 1, "a stale verdict on b")
        a.setRetired(false)

        _ = try fixture.unlock(paths[0])
        Self.expectCounts(fixture.locker, locked: 3, degraded: 0, violated: 0, "violated a unlocked")
        _ = try fixture.lock(paths[0])
        Self.expectCounts(fixture.locker, locked: 4, degraded: 0, violated: 0, "a locked again")
        let earlier = try #require(fixture.locker.lockedFile(paths[0]))
        _ = try fixture.unlock(paths[0])
        _ = try fixture.lock(paths[0])
        #expect(fixture.locker.recordViolation(earlier, violation) == .stale)
        Self.expectCounts(fixture.locker, locked: 4, degraded: 0, violated: 0, "a verdict on an earlier generation")

        // A restart: c's flag was cleared meanwhile (degraded), d was violated (restored violated).
        let d = try #require(fixture.locker.lockedFile(paths[3]))
        #expect(fixture.locker.recordViolation(d, violation) == .first)
        let c = try fixture.roots.open(paths[2], flags: .readOnly).file
        var flags = try c.inodeFlags()
        flags.remove(.immutable)
        try c.setInodeFlags(flags)
        let restarted = FileLocker(
            store: fixture.store, logger: Logger(label: "counts-tests") { _ in SwiftLogNoOpLogHandler() })
        try restarted.recover(
            open: { [roots = fixture.roots] path, flags throws(CoreError) in try roots.open(path, flags: flags) },
            probe: { _, _ in FilesystemProbe(unprobedReason: "not probed in tests") })
        Self.expectCounts(restarted, locked: 2, degraded: 1, violated: 1, "after the restart")

        // A verdict on the degraded file is recorded, but its state stays degraded.
        let degraded = try #require(restarted.lockedFile(paths[2]))
        #expect(restarted.recordViolation(degraded, violation) == .first)
        Self.expectCounts(restarted, locked: 2, degraded: 1, violated: 1, "a verdict on the degraded file")
        let healthy = try #require(restarted.lockedFile(paths[1]))
        #expect(restarted.recordViolation(healthy, violation) == .first)
        Self.expectCounts(restarted, locked: 1, degraded: 1, violated: 2, "b violated after the restart")

        for path in paths {
            _ = try? restarted.unlock(path) { [roots = fixture.roots] path throws(CoreError) in
                try roots.open(path, flags: .readOnly)
            }
        }
        Self.expectCounts(restarted, locked: 0, degraded: 0, violated: 0, "all unlocked")
        #expect(try fixture.store.locks().isEmpty)
    }

    /// The inode index finds the lock of a file by device and inode, and forgets it on unlock.
    @Test func aLockIsFoundByItsInode() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let path = try fixture.readyFile("a.bin")
        let other = try fixture.readyFile("b.bin")
        _ = try fixture.lock(path)
        _ = try fixture.lock(other)
        let status = try fixture.roots.open(path, flags: .pathOnly).status
        #expect(fixture.locker.lockedFile(device: status.device, inode: status.inode)?.path == path)
        #expect(fixture.locker.lockedFile(device: status.device, inode: status.inode &+ 1_000_000) == nil)
        _ = try fixture.unlock(path)
        #expect(fixture.locker.lockedFile(device: status.device, inode: status.inode) == nil)
    }
}
