import Glibc
import LinuxFS
import Testing

@Suite("status() via statx")
struct FileStatusTests {
    @Test func reportsRegularFileFields() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("data.bin", mode: 0o640)
        try file.fill(0xAB, count: 10_000, at: 0)
        try file.sync()

        let status = try file.status()
        let reference = try #require(statPath("\(directory.path)/data.bin"))
        #expect(status.size == 10_000)
        #expect(status.kind == .regular)
        #expect(status.mode == UInt32(reference.st_mode))
        #expect(status.mode & 0o7777 & ~0o640 == 0)  // created with 0o640, minus the umask
        #expect(status.mode & UInt32(S_IFMT) == UInt32(S_IFREG))
        #expect(status.links == 1)
        #expect(status.inode == UInt64(reference.st_ino))
        #expect(status.device == UInt64(reference.st_dev))
        #expect(status.blocks512 == UInt64(reference.st_blocks))
        #expect(status.blockSize == UInt32(reference.st_blksize))
        #expect(status.mountID > 0)
        #expect(!status.isImmutable)
        #expect(!status.isAppendOnly)
        #expect(!status.isDAX)
        let referenceCtime = Int64(reference.st_ctim.tv_sec) * 1_000_000_000 + Int64(reference.st_ctim.tv_nsec)
        #expect(status.changeTimeNanoseconds == referenceCtime)
    }

    /// `status(ofEntry:)` (the audit's path check): the entry itself, never what a symlink
    /// names, and `ENOENT` when there is no such entry.
    @Test func reportsADirectoryEntryWithoutFollowingIt() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("data.bin")
        let parent = try directory.open()
        let entry = try parent.status(ofEntry: "data.bin")
        let held = try file.status()
        #expect(entry.inode == held.inode && entry.device == held.device && entry.mountID == held.mountID)
        #expect(entry.kind == .regular)
        #expect(symlink("data.bin", "\(directory.path)/link") == 0)
        let link = try parent.status(ofEntry: "link")
        #expect(link.kind == .symlink && link.inode != held.inode, "a symlink is not followed")
        #expect(linuxError { try parent.status(ofEntry: "missing") }?.code == .noSuchFileOrDirectory)
    }

    @Test func reportsDirectoryKind() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let status = try directory.open().status()
        #expect(status.kind == .directory)
        #expect(FileKind(mode: UInt32(S_IFIFO)) == .fifo)
        #expect(FileKind(mode: UInt32(S_IFBLK | 0o660)) == .blockDevice)
        #expect(FileKind.characterDevice.rawValue == "character-device")
    }

    @Test func positionalIORoundTrips() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("io.bin")
        let payload: [UInt8] = Array(0..<200).map { UInt8($0) }
        try payload.withUnsafeBytes { buffer in try file.writeAll(buffer, at: 4096) }
        var readBack = [UInt8](repeating: 0, count: 300)
        let count = try readBack.withUnsafeMutableBytes { buffer throws(LinuxError) in
            try file.read(into: buffer, at: 4096)
        }
        #expect(count == 200)  // short read at the end of the file
        #expect(Array(readBack[0..<200]) == payload)
        try file.truncate(to: 100)
        #expect(try file.status().size == 100)
        #expect(pageSize == Int(sysconf(Int32(_SC_PAGESIZE))))
    }
}
