import Glibc
import LinuxFS
import Testing

@Suite("inode flags via FS_IOC_GETFLAGS/SETFLAGS")
struct InodeFlagsTests {
    @Test func flagValuesMatchTheKernel() {
        #expect(InodeFlags.immutable.rawValue == 0x10)
        #expect(InodeFlags.appendOnly.rawValue == 0x20)
        #expect(InodeFlags.noCOW.rawValue == 0x0080_0000)
        #expect(InodeFlags.dax.rawValue == 0x0200_0000)
        #expect(extendedFlagRealtime == 0x1)
    }

    @Test(.enabled(if: isRoot, "chattr +i needs CAP_LINUX_IMMUTABLE"))
    func immutableRoundTrip() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("locked.bin")
        try file.fill(5, count: 4096, at: 0)
        let original = try file.inodeFlags()
        #expect(!original.contains(.immutable))

        try file.setInodeFlags(original.union(.immutable))
        // Cleared even if an expectation below fails, so the directory can be removed.
        defer { try? file.setInodeFlags(original.subtracting(.immutable)) }

        #expect(try file.inodeFlags().contains(.immutable))
        #expect(try file.status().isImmutable)
        let root = try directory.open()
        #expect(linuxError { try openBeneath(root, "locked.bin", flags: .writeOnly) }?.errno == EPERM)
        #expect(linuxError { try file.allocate(.allocate, offset: 0, length: 8192) }?.errno == EPERM)
        _ = try openBeneath(root, "locked.bin", flags: .readOnly)

        try file.setInodeFlags(original.subtracting(.immutable))
        #expect(try !file.inodeFlags().contains(.immutable))
        #expect(try !file.status().isImmutable)
        _ = try openBeneath(root, "locked.bin", flags: .writeOnly)
    }

    @Test func extendedFlagsOfAPlainFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("plain.bin")
        #expect(try file.extendedFlags() & extendedFlagRealtime == 0)
    }
}
