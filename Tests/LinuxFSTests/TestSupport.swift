import Foundation
import Glibc
import LinuxFS

/// Whether the tests run as root (mounting, `chattr +i`).
let isRoot = getuid() == 0

/// A fresh directory under /tmp (ext4 on the test machine). Call ``remove()`` in a
/// `defer` right after creating it: that also keeps it alive until the scope ends.
struct TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/linuxfs-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { buffer in
            guard let created = mkdtemp(buffer.baseAddress!) else { fatalError("mkdtemp failed: errno \(errno)") }
            return String(cString: created)
        }
    }

    /// Opens the directory as the anchor for `openBeneath`.
    func open() throws -> OpenFile {
        try openDirectory(path)
    }

    /// Creates (or opens) `name` below the directory for reading and writing.
    func create(_ name: String, mode: UInt32 = 0o640) throws -> OpenFile {
        try openBeneath(try open(), name, flags: [.readWrite, .create], mode: mode)
    }

    func makeDirectory(_ name: String) {
        precondition(mkdir("\(path)/\(name)", 0o755) == 0, "mkdir \(name): errno \(errno)")
    }

    /// Removes the directory and everything below it.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Mounts a tmpfs at `path` (created if needed) for the duration of `body`, then
/// detaches it and removes the directory again, even when `body` throws.
func withTmpfs<Result>(at path: String, readOnly: Bool = false, _ body: () throws -> Result) throws -> Result {
    if mkdir(path, 0o755) != 0 && errno != EEXIST {
        throw LinuxError(errno: errno, call: "mkdir", path: path)
    }
    defer { rmdir(path) }
    let flags: UInt = readOnly ? UInt(MS_RDONLY) : 0
    if mount("tmpfs", path, "tmpfs", flags, "size=64m") != 0 {
        throw LinuxError(errno: errno, call: "mount", path: path)
    }
    defer { umount2(path, Int32(MNT_DETACH)) }
    return try body()
}

/// `stat(2)` of a path, for comparing with `OpenFile.status()`.
func statPath(_ path: String) -> stat? {
    var info = stat()
    return stat(path, &info) == 0 ? info : nil
}

/// The error a throwing call produced, or `nil` if it did not throw a `LinuxError`.
func linuxError<T>(_ body: () throws -> T) -> LinuxError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error as? LinuxError
    }
}

extension OpenFile {
    /// Writes `count` bytes of `value` at `offset`.
    func fill(_ value: UInt8, count: Int, at offset: UInt64) throws {
        let bytes = [UInt8](repeating: value, count: count)
        try bytes.withUnsafeBytes { buffer in try writeAll(buffer, at: offset) }
    }
}
