import Glibc
import LinuxFS
import Testing

@Suite("allocate() via fallocate")
struct FallocateTests {
    @Test func modesMapToKernelValues() {
        #expect(FallocateMode.allocate.rawValue == 0)
        #expect(FallocateMode.writeZeroes.rawValue == 0x80)
        #expect(FallocateMode.unshareKeepSize.rawValue == 0x41)
        #expect(FallocateMode.punchHoleKeepSize.rawValue == 0x03)
    }

    @Test func allocateGrowsTheFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("grow.bin")
        try file.allocate(.allocate, offset: 0, length: 1 << 20)
        let status = try file.status()
        #expect(status.size == 1 << 20)
        #expect(status.blocks512 * 512 >= 1 << 20)
    }

    @Test func readOnlyDescriptorIsRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        _ = try directory.create("ro.bin")
        let readOnly = try openBeneath(try directory.open(), "ro.bin", flags: .readOnly)
        let error = linuxError { try readOnly.allocate(.allocate, offset: 0, length: 4096) }
        #expect(error?.errno == EBADF)
        #expect(error?.call == "fallocate")
    }
}
