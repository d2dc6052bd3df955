import Glibc
import LinuxFS
import Testing

@Suite("Small files")
struct SmallFileTests {
    @Test("read returns files up to the limit and refuses a byte more")
    func readLimit() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = "\(directory.path)/token"
        try SmallFile.writeAtomically(path, contents: Array("12345678".utf8))
        #expect(try SmallFile.read(path, limit: 8) == Array("12345678".utf8))
        let tooLarge = linuxError { try SmallFile.read(path, limit: 7) }
        #expect(tooLarge?.code == .fileTooLarge && tooLarge?.call == "read" && tooLarge?.path == path)
        #expect(try SmallFile.read(path, limit: 100).count == 8)
    }

    @Test("read checks the limit on files that report size 0 (/proc)")
    func readProcFile() throws {
        let mounts = try SmallFile.read("/proc/self/mounts", limit: 1 << 20)
        #expect(!mounts.isEmpty)
        #expect(linuxError { try SmallFile.read("/proc/self/mounts", limit: 10) }?.code == .fileTooLarge)
    }

    @Test("read refuses symbolic links, directories and missing files")
    func readRefusals() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let target = "\(directory.path)/target"
        try SmallFile.writeAtomically(target, contents: [1])
        #expect(symlink(target, "\(directory.path)/link") == 0)
        let link = linuxError { try SmallFile.read("\(directory.path)/link", limit: 10) }
        #expect(link?.code == .tooManySymbolicLinkLevels)
        let notFile = linuxError { try SmallFile.read(directory.path, limit: 10) }
        #expect(notFile?.code == .invalidArgument && notFile?.call == "open")
        let missing = linuxError { try SmallFile.read("\(directory.path)/missing", limit: 10) }
        #expect(missing?.code == .noSuchFileOrDirectory)
    }

    @Test("writeAtomically replaces the file with mode 0600 and leaves no temporary file")
    func writeReplaces() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = "\(directory.path)/token"
        directoryWrite(path, "old contents, longer")
        #expect(chmod(path, 0o644) == 0)
        try SmallFile.writeAtomically(path, contents: Array("new\n".utf8))
        #expect(try SmallFile.read(path, limit: 100) == Array("new\n".utf8))
        #expect(statPath(path).map { $0.st_mode & 0o777 } == 0o600)
        #expect(statPath("\(path).tmp.\(getpid())") == nil)
    }

    @Test("a failed rename removes the temporary file")
    func writeFailureCleansUp() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.makeDirectory("occupied")
        directory.makeDirectory("occupied/child")  // rename cannot replace a non-empty directory
        let path = "\(directory.path)/occupied"
        let failure = linuxError { try SmallFile.writeAtomically(path, contents: [1]) }
        #expect(failure?.call == "rename" && failure?.path == path)
        #expect(statPath("\(path).tmp.\(getpid())") == nil)
    }

    @Test("makeDirectories creates missing parents with the mode and accepts existing ones")
    func makeDirectories() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let nested = "\(directory.path)/a/b/c"
        try SmallFile.makeDirectories(nested, mode: 0o750)
        try SmallFile.makeDirectories(nested)
        let expected = 0o750 & ~Self.umask()  // the umask is process-wide: read it, never set it while tests run
        #expect(statPath(nested).map { $0.st_mode & S_IFMT == S_IFDIR && $0.st_mode & 0o777 == expected } == true)
        directoryWrite("\(directory.path)/file", "x")
        let blocked = linuxError { try SmallFile.makeDirectories("\(directory.path)/file/sub") }
        #expect(blocked?.code == .notDirectory && blocked?.path == "\(directory.path)/file/sub")
    }

    /// The process's file mode creation mask, from the `Umask:` line of /proc/self/status.
    static func umask() -> mode_t {
        let status = String(decoding: (try? SmallFile.read("/proc/self/status", limit: 1 << 16)) ?? [], as: UTF8.self)
        let line = status.split(separator: "\n").first { $0.hasPrefix("Umask:") } ?? "Umask:\t0022"
        return mode_t(line.dropFirst(6).trimmingPrefix(while: \.isWhitespace), radix: 8) ?? 0o022
    }

    private func directoryWrite(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "open \(path): errno \(errno)")
        _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
