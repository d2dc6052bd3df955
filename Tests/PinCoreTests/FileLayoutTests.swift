import LinuxFS
import Testing

@testable import PinCore

@Suite struct FileLayoutTests {
    private func extent(_ start: UInt64, _ length: UInt64, _ flags: ExtentFlags = []) -> Extent {
        Extent(logical: start, physical: start + 1_000_000, length: length, flags: flags)
    }

    @Test func fullyWrittenFileIsReady() {
        let layout = FileLayout(size: 8192, extents: [extent(0, 8192, .last)])
        #expect(layout.reasons.isEmpty)
        #expect(layout.bytes.written == 8192)
        #expect(layout.rangesToZero.isEmpty && layout.rewriteRanges.isEmpty)
    }

    @Test func gapsAreHolesAndNamedAsReasons() {
        let layout = FileLayout(size: 16384, extents: [extent(4096, 4096)])
        #expect(layout.holeCount == 2)
        #expect(layout.bytes.hole == 12288)
        #expect(layout.rangesToZero == [0..<4096, 8192..<16384])
        #expect(layout.reasons.map(\.code) == ["holes"])
        #expect(layout.reasons.first?.bytes == 12288)
    }

    @Test func unwrittenAndHolesCoalesceIntoOneZeroRange() {
        let layout = FileLayout(size: 12288, extents: [extent(0, 4096), extent(4096, 4096, .unwritten)])
        #expect(layout.rangesToZero == [4096..<12288])
        #expect(Set(layout.reasons.map(\.code)) == ["holes", "unwritten-extents"])
    }

    @Test func sharedAndInlineExtentsAreRewrittenNotZeroed() {
        let layout = FileLayout(
            size: 12288, extents: [extent(0, 8192, .shared), extent(8192, 4096, [.dataInline, .notAligned])])
        #expect(layout.rangesToZero.isEmpty)
        #expect(layout.rewriteRanges == [0..<12288])
        #expect(Set(layout.reasons.map(\.code)) == ["shared-extents", "inline-data"])
        #expect(layout.bytes.shared == 8192 && layout.bytes.inline == 4096)
    }

    @Test func extentsBeyondTheSizeAreClippedAndBytesAddUp() {
        let layout = FileLayout(
            size: 6000, extents: [extent(0, 4096, .delalloc), extent(4096, 8192, [.encoded, .last])])
        let bytes = layout.bytes
        #expect(bytes.written + bytes.unwritten + bytes.hole + bytes.delalloc + bytes.inline == 6000)
        #expect(bytes.encoded == 1904)
        #expect(Set(layout.reasons.map(\.code)) == ["delalloc-extents", "encoded-extents"])
    }

    @Test func emptyFileIsNotReady() {
        #expect(FileLayout(size: 0, extents: []).reasons.map(\.code) == ["empty-file"])
    }

    @Test func dataSegmentsFromSeekDataLeaveHoles() {
        let layout = FileLayout(size: 10000, dataSegments: [0..<4096, 8192..<10000])
        #expect(layout.rangesToZero == [4096..<8192])
        #expect(layout.bytes.written == 5904)
    }
}
