import Glibc
import LinuxFS
import Testing

@Suite("filesystem() via fstatfs + mountinfo")
struct FilesystemInfoTests {
    @Test func describesTheTemporaryDirectoryFilesystem() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let info = try directory.create("f").filesystem()
        #expect(info.blockSize > 0)
        #expect(!info.isReadOnly)
        #expect(!info.type.isEmpty)
        #expect(!info.source.isEmpty)
        #expect(directory.path.hasPrefix(info.mountPoint))
        #expect(info.options.split(separator: ",").contains("rw"))
        if info.magic == 0xEF53 { #expect(info.type.hasPrefix("ext")) }
    }

    @Test(.enabled(if: isRoot, "mounting needs root"))
    func describesTmpfsWithEscapedMountPoint() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let mountPoint = "\(directory.path)/mount point"
        try withTmpfs(at: mountPoint) {
            let info = try openDirectory(mountPoint).filesystem()
            #expect(info.type == "tmpfs")
            #expect(info.magic == 0x0102_1994)
            #expect(info.mountPoint == mountPoint)
            #expect(info.source == "tmpfs")
            #expect(info.options.contains("size=65536k"))
            #expect(!info.isReadOnly)
        }
    }

    @Test(.enabled(if: isRoot, "mounting needs root"))
    func reportsReadOnlyMounts() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try withTmpfs(at: "\(directory.path)/ro", readOnly: true) {
            let info = try openDirectory("\(directory.path)/ro").filesystem()
            #expect(info.isReadOnly)
            #expect(info.options.split(separator: ",").first == "ro")
        }
    }
}
