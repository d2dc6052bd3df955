import LinuxFS
import Testing

@Suite("dataSegments() via SEEK_DATA/SEEK_HOLE")
struct DataSegmentsTests {
    @Test func findsDataBetweenHoles() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("sparse.bin")
        try file.fill(1, count: 65_536, at: 0)
        try file.fill(2, count: 65_536, at: 1 << 20)
        try file.truncate(to: 2 << 20)
        #expect(try file.dataSegments(size: 2 << 20) == [0..<65_536, (1 << 20)..<((1 << 20) + 65_536)])
        // The walk stops at `size`.
        #expect(try file.dataSegments(size: 4096) == [0..<4096])
        #expect(try file.dataSegments(size: 0) == [])
    }

    @Test func fullyHoledAndFullyWrittenFiles() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let holes = try directory.create("holes.bin")
        try holes.truncate(to: 1 << 20)
        #expect(try holes.dataSegments(size: 1 << 20) == [])

        let dense = try directory.create("dense.bin")
        try dense.fill(3, count: 3 * 4096, at: 0)
        #expect(try dense.dataSegments(size: 3 * 4096) == [0..<(3 * 4096)])
    }

    @Test func punchedHoleSplitsData() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("punched.bin")
        try file.fill(9, count: 16 * 4096, at: 0)
        try file.sync()
        try file.allocate(.punchHoleKeepSize, offset: 4 * 4096, length: 4 * 4096)
        #expect(try file.status().size == 16 * 4096)
        #expect(try file.dataSegments(size: 16 * 4096) == [0..<(4 * 4096), (8 * 4096)..<(16 * 4096)])
    }

    @Test(.enabled(if: isRoot, "mounting needs root"))
    func worksOnTmpfs() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try withTmpfs(at: "\(directory.path)/tmpfs") {
            let file = try openBeneath(try openDirectory("\(directory.path)/tmpfs"), "f", flags: [.readWrite, .create])
            try file.fill(1, count: 4096, at: 8192)
            try file.truncate(to: 65_536)
            #expect(try file.dataSegments(size: 65_536) == [8192..<12_288])
        }
    }
}
