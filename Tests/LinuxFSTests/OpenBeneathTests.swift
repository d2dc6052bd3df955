import Glibc
import LinuxFS
import Testing

@Suite("openBeneath confinement")
struct OpenBeneathTests {
    @Test func opensNestedFiles() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.makeDirectory("a")
        directory.makeDirectory("a/b")
        let root = try directory.open()
        let created = try openBeneath(root, "a/b/c.bin", flags: [.writeOnly, .create, .exclusive])
        #expect(created.path == "a/b/c.bin")
        let reopened = try openBeneath(root, "a/b/c.bin", flags: .readOnly)
        #expect(try reopened.status().inode == created.status().inode)
        #expect(statPath("\(directory.path)/a/b/c.bin") != nil)
    }

    @Test func refusesDotDotEscape() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.makeDirectory("a")
        let root = try directory.open()
        let error = linuxError { try openBeneath(root, "../etc/passwd", flags: .readOnly) }
        #expect(error?.errno == EXDEV)
        #expect(error?.call == "openat2")
        // ".." that stays inside is fine.
        _ = try openBeneath(root, "a/..", flags: [.readOnly, .directory])
    }

    @Test func refusesAbsolutePath() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let root = try directory.open()
        #expect(linuxError { try openBeneath(root, "/etc/passwd", flags: .readOnly) }?.errno == EXDEV)
    }

    @Test func refusesSymlinks() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.makeDirectory("real")
        let root = try directory.open()
        _ = try openBeneath(root, "real/file", flags: [.writeOnly, .create])
        #expect(symlink("real", "\(directory.path)/link") == 0)
        #expect(symlink("file", "\(directory.path)/real/last") == 0)
        #expect(linuxError { try openBeneath(root, "link/file", flags: .readOnly) }?.errno == ELOOP)
        #expect(linuxError { try openBeneath(root, "real/last", flags: .readOnly) }?.errno == ELOOP)
    }

    @Test func reportsMissingAndExistingFiles() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let root = try directory.open()
        let missing = linuxError { try openBeneath(root, "a/b.bin", flags: .readOnly) }
        #expect(missing?.errno == ENOENT)
        #expect(missing?.description == "openat2(a/b.bin): No such file or directory (ENOENT)")
        _ = try openBeneath(root, "x", flags: [.writeOnly, .create, .exclusive])
        #expect(linuxError { try openBeneath(root, "x", flags: [.writeOnly, .create, .exclusive]) }?.errno == EEXIST)
    }

    @Test(.enabled(if: isRoot, "mounting needs root"))
    func refusesMountCrossing() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let root = try directory.open()
        try withTmpfs(at: "\(directory.path)/mnt") {
            #expect(linuxError { try openBeneath(root, "mnt", flags: [.readOnly, .directory]) }?.errno == EXDEV)
        }
    }

    @Test func openDirectoryRejectsFiles() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        _ = try directory.create("plain")
        #expect(linuxError { try openDirectory("\(directory.path)/plain") }?.errno == ENOTDIR)
        #expect(try openDirectory(directory.path).status().kind == .directory)
    }
}
