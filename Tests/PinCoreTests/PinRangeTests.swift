import Glibc
import LinuxFS
import PinJSON
import PinWire
import Testing

@testable import PinCore

@Suite struct PinRangeTests {
    private let path = RootedPath(root: "data", relative: "a.bin")
    private let page = UInt64(pageSize)

    private func code(_ body: () throws -> PinRange) -> CoreErrorCode? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? CoreError)?.code
        }
    }

    @Test func defaultsToTheWholeFile() throws {
        #expect(
            try PinRange.validated(offset: nil, length: nil, size: 10 * page, path: path)
                == PinRange(offset: 0, length: 10 * page))
        #expect(
            try PinRange.validated(offset: 2 * page, length: nil, size: 10 * page, path: path)
                == PinRange(offset: 2 * page, length: 8 * page))
    }

    @Test func aLengthMayEndAtAnUnalignedEndOfFile() throws {
        let size = 3 * page + 10
        #expect(
            try PinRange.validated(offset: page, length: nil, size: size, path: path)
                == PinRange(offset: page, length: 2 * page + 10))
        #expect(try PinRange.validated(offset: 0, length: size, size: size, path: path).length == size)
        #expect(
            code { try PinRange.validated(offset: 0, length: page + 10, size: size, path: path) } == .unalignedRange)
    }

    @Test func refusesUnalignedAndOutOfRange() {
        let size = 8 * page
        #expect(code { try PinRange.validated(offset: 100, length: page, size: size, path: path) } == .unalignedRange)
        #expect(code { try PinRange.validated(offset: 0, length: 100, size: size, path: path) } == .unalignedRange)
        #expect(code { try PinRange.validated(offset: 0, length: 0, size: size, path: path) } == .invalidRange)
        #expect(code { try PinRange.validated(offset: size, length: nil, size: size, path: path) } == .invalidRange)
        #expect(code { try PinRange.validated(offset: page, length: size, size: size, path: path) } == .invalidRange)
        #expect(code { try PinRange.validated(offset: page, length: .max, size: size, path: path) } == .invalidRange)
        #expect(code { try PinRange.validated(offset: nil, length: nil, size: 0, path: path) } == .invalidRange)
    }
}

@Suite struct CompatibilityReportTests {
    private func facts(_ fs: String, probe: FilesystemProbe, writers: LockWriters = .none, readLease: Bool = true)
        -> CompatibilityFacts
    {
        CompatibilityFacts(
            fsType: fs, immutable: true, readLease: readLease, writers: writers, isDAX: false, probe: probe,
            mapSyncErrno: EOPNOTSUPP)
    }

    @Test func probedRowsFollowTheProbe() {
        let tmpfs = CompatibilityReport(
            facts(
                "tmpfs", probe: FilesystemProbe(preopenedWritesBlocked: false, longTermWriteErrno: 0), writers: .daemon,
                readLease: false))
        #expect(tmpfs.longTermPinWrite.holds && tmpfs.longTermPinWrite.probed)
        #expect(!tmpfs.existingWritersBlocked.holds && tmpfs.existingWritersBlocked.probed)
        #expect(tmpfs.pinnedWrites.holds)
        #expect(!tmpfs.reflinkSourcePossible.holds)
        #expect(!tmpfs.leaseBreakRecall.holds)

        let ext4 = CompatibilityReport(
            facts(
                "ext4", probe: FilesystemProbe(preopenedWritesBlocked: true, longTermWriteErrno: EFAULT),
                writers: .daemon))
        #expect(ext4.existingWritersBlocked.holds)
        #expect(!ext4.longTermPinWrite.holds && ext4.longTermPinWrite.reason.contains("EFAULT"))
        #expect(!ext4.pinnedWrites.holds)
        #expect(ext4.longTermPinRead.holds && !ext4.longTermPinRead.probed)
        #expect(!ext4.mapSync.holds && ext4.mapSync.probed)
        #expect(!ext4.dax.holds)
    }

    @Test func unprobedFilesystemsFallBackToTheKernelFactsAndSaySo() {
        let xfs = CompatibilityReport(facts("xfs", probe: FilesystemProbe(unprobedReason: "read-only")))
        #expect(!xfs.existingWritersBlocked.holds && !xfs.existingWritersBlocked.probed)
        #expect(!xfs.longTermPinWrite.holds && !xfs.longTermPinWrite.probed)
        #expect(xfs.longTermPinWrite.reason.contains("read-only"))
        #expect(xfs.reflinkSourcePossible.holds)
        #expect(!xfs.pinnedWrites.holds)  // writers "none"
    }

    @Test func fsdaxRefusesReadPinsToo() {
        let dax = CompatibilityReport(
            facts("xfs", probe: FilesystemProbe(preopenedWritesBlocked: false, longTermWriteErrno: EOPNOTSUPP)))
        #expect(!dax.longTermPinRead.holds)
        #expect(dax.longTermPinRead.reason.contains("EOPNOTSUPP"))
    }

    @Test func everyRowIsInTheJSON() {
        let report = CompatibilityReport(
            facts("btrfs", probe: FilesystemProbe(preopenedWritesBlocked: false, longTermWriteErrno: EFAULT)))
        let rows = report.json.objectValue?.keys.sorted() ?? []
        #expect(
            rows == [
                "dax", "existing_writers_blocked", "immutable_flag", "lease_break_recall", "longterm_pin_read",
                "longterm_pin_write", "map_sync", "pinned_writes", "reflink_source_possible",
            ])
    }
}
