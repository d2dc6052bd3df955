import Glibc
import LinuxFS
import Testing

@Suite("extents() via FIEMAP")
struct ExtentsTests {
    private let mebibyte: UInt64 = 1 << 20

    @Test func sparseFileShowsAGapAndFallocateShowsUnwritten() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("sparse.bin")
        try file.fill(1, count: 65_536, at: 0)
        try file.fill(2, count: 65_536, at: 4 * mebibyte)
        let size = try file.status().size
        #expect(size == 4 * mebibyte + 65_536)

        let written = try file.extents(length: size, sync: true)
        try #require(written.count >= 2)
        #expect(written.first?.logical == 0)
        #expect(written.last?.end == size)
        #expect(written.last?.flags.contains(.last) == true)
        let gaps = zip(written, written.dropFirst()).filter { $0.end < $1.logical }
        #expect(gaps.count == 1)
        #expect(written.allSatisfy { !$0.flags.contains(.unwritten) && !$0.flags.contains(.delalloc) })

        try file.allocate(.allocate, offset: mebibyte, length: mebibyte)
        let allocated = try file.extents(length: size, sync: true)
        let unwritten = allocated.filter { $0.flags.contains(.unwritten) }
        #expect(unwritten.first?.logical == mebibyte)
        #expect(unwritten.reduce(0) { $0 + $1.length } == mebibyte)

        // Only the requested range is mapped (the kernel may report whole extents).
        let window = try file.extents(from: mebibyte, length: 4096, sync: false)
        #expect(window.count == 1)
        #expect(window.first?.flags.contains(.unwritten) == true)
    }

    @Test func writtenAndSyncedDataHasPlainExtents() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("dense.bin")
        try file.allocate(.allocate, offset: 0, length: mebibyte)
        try file.fill(0, count: Int(mebibyte), at: 0)
        try file.sync()
        let extents = try file.extents(length: mebibyte, sync: false)
        try #require(!extents.isEmpty)
        #expect(extents.first?.logical == 0)
        #expect(extents.last?.end == mebibyte)
        #expect(zip(extents, extents.dropFirst()).allSatisfy { $0.end == $1.logical })
        #expect(extents.allSatisfy { $0.flags.subtracting([.last, .merged]).isEmpty })
    }

    @Test func loopsPastOneBatch() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("many.bin")
        let count = 1_200
        let block: UInt64 = 4096
        for index in 0..<count {
            try file.fill(0xEE, count: Int(block), at: UInt64(index) * 2 * block)
        }
        let size = try file.status().size
        let extents = try file.extents(length: size, sync: true)
        #expect(extents.count == count)
        #expect(extents.map(\.logical) == (0..<count).map { UInt64($0) * 2 * block })
        #expect(extents.allSatisfy { $0.length == block })
        #expect(extents.filter { $0.flags.contains(.last) }.count == 1)
    }

    @Test func emptyRangeAndEmptyFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("empty.bin")
        #expect(try file.extents(length: 0, sync: false).isEmpty)
        #expect(try file.extents(length: 1 << 30, sync: true).isEmpty)
    }

    @Test(.enabled(if: isRoot, "mounting needs root"))
    func tmpfsHasNoFiemap() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try withTmpfs(at: "\(directory.path)/tmpfs") {
            let root = try openDirectory("\(directory.path)/tmpfs")
            let file = try openBeneath(root, "f", flags: [.readWrite, .create])
            try file.fill(7, count: 8192, at: 0)
            let error = linuxError { try file.extents(length: 8192, sync: true) }
            #expect(error?.errno == EOPNOTSUPP)
            #expect(error?.call == "ioctl(FS_IOC_FIEMAP)")
            #expect(linuxError { try file.extents(length: 0, sync: false) }?.errno == EOPNOTSUPP)
        }
    }
}
