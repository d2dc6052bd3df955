import Glibc
import LinuxFS
import Logging
import PinStore
import PinTestSupport
import Testing

@testable import PinCore

/// `FileLocker` on real files under /tmp (ext4 here): the immutable flag, the kernel read lease
/// and the durable record of a lock; the retired-generation rule for audit verdicts (issue 8);
/// recovery from the records after a restart. Setting the flag needs CAP_LINUX_IMMUTABLE, so
/// these tests run as root only.
@Suite(.enabled(if: StoreTestDirectory.isRoot, "the immutable flag needs root (CAP_LINUX_IMMUTABLE)"))
struct FileLockerTests {
    /// A locker over a fresh state directory and root `data`; ``close()`` removes everything.
    struct Fixture {
        let directory = StoreTestDirectory("filelocker")
        let roots: Roots
        let store: StateStore
        let locker: FileLocker

        init() throws {
            // A break of a lease taken here must reach a handler, not kill the test process.
            try LeaseBreakMonitor.install()
            let data = directory.makeDirectory("data")
            roots = try Roots([RootSpec(name: "data", path: data)])
            store = try StateStore(directory: directory.path)
            locker = FileLocker(
                store: store, logger: Logger(label: "filelocker-tests") { _ in SwiftLogNoOpLogHandler() })
        }

        func close() { directory.remove() }

        /// A file of `pages` pages of data, written and synced (ready: no holes, nothing unwritten).
        @discardableResult
        func readyFile(_ name: String, pages: Int = 2) throws -> RootedPath {
            let path = try roots.resolve(name)
            let file = try openBeneath(try openDirectory(directory.file("data")), name, flags: [.writeOnly, .create])
            let bytes = [UInt8](repeating: 0x5a, count: pages * Int(getpagesize()))
            try bytes.withUnsafeBytes { buffer in try file.writeAll(buffer, at: 0) }
            try file.sync()
            return path
        }

        func lock(_ path: RootedPath, writers: LockWriters = .none) throws(CoreError) -> LockReport {
            let (file, status) = try roots.open(path, flags: .readOnly)
            return try locker.lock(
                file, status: status, path: path, writers: writers,
                probe: FilesystemProbe(unprobedReason: "not probed in tests"),
                requireOnlyName: { [roots] (file: OpenFile) throws(CoreError) in
                    _ = try roots.requireOnlyName(file, path: path)
                },
                openWritable: { [roots] () throws(CoreError) in try roots.open(path, flags: .readWrite).file })
        }

        func unlock(_ path: RootedPath) throws(CoreError) -> UnlockReport {
            try locker.unlock(path) { [roots] path throws(CoreError) in try roots.open(path, flags: .readOnly) }
        }

        func isImmutable(_ path: RootedPath) throws -> Bool {
            try roots.open(path, flags: .pathOnly).status.isImmutable
        }

        func setImmutable(_ path: RootedPath) throws {
            let file = try roots.open(path, flags: .readOnly).file
            var flags = try file.inodeFlags()
            flags.insert(.immutable)
            try file.setInodeFlags(flags)
        }
    }

    static func errorCode(_ body: () throws -> Void) -> CoreErrorCode? {
        do {
            try body()
            return nil
        } catch {
            return (error as? CoreError)?.code
        }
    }

    static let violation = FileViolation(code: "size-changed", detail: "grew", detectedAt: 1_764_000_000_000)

    @Test func lockSetsTheFlagTakesTheLeaseAndRecordsItUnlockUndoesAll() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let path = try fixture.readyFile("a.bin")
        let report = try fixture.lock(path)
        #expect(report.immutable && report.readLease && report.flagSetByDaemon && report.writers == .none)
        #expect(try fixture.isImmutable(path))
        #expect(try fixture.store.locks().map(\.phase) == [.locked])
        #expect(fixture.locker.lockedFile(path)?.readLeaseNow == true)
        #expect(
            Self.errorCode { _ = try fixture.roots.open(path, flags: .readWrite) } != nil,
            "an immutable file opens for reading only")

        let unlocked = try fixture.unlock(path)
        #expect(unlocked.flagCleared && !unlocked.immutable)
        #expect(try !fixture.isImmutable(path))
        #expect(try fixture.store.locks().isEmpty)
        #expect(fixture.locker.lockedFile(path) == nil)
        #expect(Self.errorCode { _ = try fixture.unlock(path) } == .notLocked)
    }

    @Test func aFlagSetBySomeoneElseStaysSetAfterUnlock() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let path = try fixture.readyFile("theirs.bin")
        try fixture.setImmutable(path)
        #expect(
            Self.errorCode { _ = try fixture.lock(path, writers: .daemon) } == .fileImmutable,
            "cannot open it for writing")
        let report = try fixture.lock(path)
        #expect(!report.flagSetByDaemon && report.immutable)
        let unlocked = try fixture.unlock(path)
        #expect(!unlocked.flagCleared && unlocked.immutable)
        #expect(try fixture.isImmutable(path))
    }

    /// Another open for writing: no read lease can be taken, and the refused lock leaves
    /// nothing behind (no flag, no record, nothing tracked).
    @Test func aFileOpenForWritingIsRefusedAndLeftAsItWas() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let path = try fixture.readyFile("busy.bin")
        let writer = try fixture.roots.open(path, flags: .readWrite).file
        #expect(Self.errorCode { _ = try fixture.lock(path) } == .writersPresent)
        #expect(try !fixture.isImmutable(path))
        #expect(try fixture.store.locks().isEmpty)
        #expect(fixture.locker.lockedFile(path) == nil)
        withExtendedLifetime(writer) {}
    }

    @Test func aFileWithAHoleIsNotReadyAndIsNotLocked() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let path = try fixture.readyFile("sparse.bin")
        try fixture.roots.open(path, flags: .readWrite).file.truncate(to: 1 << 20)
        #expect(Self.errorCode { _ = try fixture.lock(path) } == .notReady)
        #expect(try !fixture.isImmutable(path) && fixture.store.locks().isEmpty)
    }

    @Test func aVerdictIsRecordedOnceThenRepeated() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let path = try fixture.readyFile("a.bin")
        _ = try fixture.lock(path)
        let locked = try #require(fixture.locker.lockedFile(path))
        #expect(fixture.locker.recordViolation(locked, Self.violation) == .first)
        #expect(
            fixture.locker.recordViolation(locked, FileViolation(code: "path-removed", detail: "gone")) == .repeated)
        #expect(locked.violation == Self.violation, "the first verdict stays")
        #expect(try fixture.store.locks().first?.violation == Self.violation, "and is durable")
        #expect(fixture.locker.trackedFiles.map(\.state) == ["violated"])
    }

    /// Issue 8: once an unlock of a lock generation began, a verdict about it is stale.
    /// A failed unlock makes it current again.
    @Test func aVerdictAboutAGenerationBeingUnlockedIsStale() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let path = try fixture.readyFile("a.bin")
        _ = try fixture.lock(path)
        let locked = try #require(fixture.locker.lockedFile(path))
        locked.setRetired(true)
        #expect(fixture.locker.recordViolation(locked, Self.violation) == .stale)
        #expect(try locked.violation == nil && fixture.store.locks().first?.violation == nil)
        locked.setRetired(false)
        #expect(fixture.locker.recordViolation(locked, Self.violation) == .first)
    }

    /// Issue 8: a verdict read before an unlock and a re-lock of the same path never lands on
    /// the new lock generation.
    @Test func aVerdictAboutAnEarlierGenerationIsStale() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let path = try fixture.readyFile("a.bin")
        _ = try fixture.lock(path)
        let earlier = try #require(fixture.locker.lockedFile(path))
        _ = try fixture.unlock(path)
        #expect(earlier.isRetired, "an unlock retires its generation")
        _ = try fixture.lock(path)
        let current = try #require(fixture.locker.lockedFile(path))
        #expect(current !== earlier && !current.isRetired)
        #expect(fixture.locker.recordViolation(earlier, Self.violation) == .stale)
        #expect(current.violation == nil)
        #expect(try fixture.store.locks().first?.violation == nil)
        #expect(fixture.locker.trackedFiles.map(\.state) == ["locked"])
    }

    /// After a restart: an interrupted lock or unlock is finished by releasing it (clearing the
    /// flag the daemon set), a recorded lock is re-taken with its violation, and a lock whose
    /// file changed meanwhile stays tracked as degraded with the reason.
    @Test func locksAreRecoveredFromTheirRecords() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        func record(_ path: RootedPath, _ phase: LockRecord.Phase, inode: UInt64? = nil) throws -> LockRecord {
            let status = try? fixture.roots.open(path, flags: .pathOnly).status
            return LockRecord(
                path: path, device: status?.device ?? 1, inode: inode ?? status?.inode ?? 1, flagSetByDaemon: true,
                phase: phase,
                lockedAt: "2026-12-01T00:00:00.000Z")
        }
        var records: [LockRecord] = []
        for (name, phase) in [("locking.bin", LockRecord.Phase.locking), ("unlocking.bin", .unlocking)] {
            let path = try fixture.readyFile(name)
            try fixture.setImmutable(path)
            records.append(try record(path, phase))
        }
        let kept = try fixture.readyFile("locked.bin")
        try fixture.setImmutable(kept)
        var keptRecord = try record(kept, .locked)
        keptRecord.violation = Self.violation
        records.append(keptRecord)
        records.append(try record(try fixture.readyFile("cleared.bin"), .locked))
        let replaced = try fixture.readyFile("replaced.bin")
        try fixture.setImmutable(replaced)
        records.append(try record(replaced, .locked, inode: 999_999_999))
        records.append(try record(try fixture.roots.resolve("missing.bin"), .locked))
        for record in records { try fixture.store.saveLock(record) }

        let restarted = FileLocker(
            store: fixture.store, logger: Logger(label: "filelocker-tests") { _ in SwiftLogNoOpLogHandler() })
        try restarted.recover(
            open: { [roots = fixture.roots] path, flags throws(CoreError) in try roots.open(path, flags: flags) },
            probe: { _, _ in FilesystemProbe(unprobedReason: "not probed in tests") })

        for name in ["locking.bin", "unlocking.bin"] {
            let path = try fixture.roots.resolve(name)
            #expect(try !fixture.isImmutable(path), "\(name): the flag the daemon set is cleared")
            #expect(restarted.lockedFile(path) == nil)
        }
        let states = Dictionary(uniqueKeysWithValues: restarted.trackedFiles.map { ($0.path.relative, $0) })
        #expect(states.keys.sorted() == ["cleared.bin", "locked.bin", "missing.bin", "replaced.bin"])
        #expect(states["locked.bin"]?.state == "violated" && states["locked.bin"]?.readLease == true)
        #expect(states["locked.bin"]?.violation == Self.violation)
        #expect(restarted.healthyFiles.map(\.path.relative) == ["locked.bin"])
        #expect(states["cleared.bin"]?.state == "degraded")
        #expect(
            states["cleared.bin"]?.reason?.contains("immutable flag was cleared") == true,
            "\(String(describing: states["cleared.bin"]?.reason))")
        #expect(
            states["replaced.bin"]?.reason?.contains("another inode") == true,
            "\(String(describing: states["replaced.bin"]?.reason))")
        #expect(states["missing.bin"]?.state == "degraded")
        #expect(try fixture.isImmutable(replaced), "the flag of an inode that is not the locked one is left alone")
        #expect(
            try fixture.store.locks().map(\.path.relative) == [
                "cleared.bin", "locked.bin", "missing.bin", "replaced.bin",
            ])
    }
}
