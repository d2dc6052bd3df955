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

/// System call numbers for ``waitUntilBlocked(thread:in:timeout:)``.
enum SystemCall {
    #if arch(x86_64)
        static let accept4 = 288
        static let polls: Set<Int> = [7, 271]  // poll, ppoll
    #elseif arch(arm64)
        static let accept4 = 242
        static let polls: Set<Int> = [73]  // ppoll
    #endif
}

/// The kernel's id of the calling thread (`/proc/thread-self` is `PID/task/TID`).
func currentThreadID() -> Int32 {
    var buffer = [CChar](repeating: 0, count: 64)
    let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    precondition(count > 0, "readlink /proc/thread-self: errno \(errno)")
    let target = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return Int32(target.split(separator: "/").last ?? "") ?? -1
}

/// Waits until thread `thread` of this process sleeps inside one of `calls` (read from
/// `/proc/self/task/TID/syscall`, whose first field is the call's number and the next its
/// first argument); `firstArgument`, when given, must match too. False after `timeout`.
func waitUntilBlocked(thread: Int32, in calls: Set<Int>, firstArgument: Int? = nil, timeout: Duration = .seconds(60))
    -> Bool
{
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        let fields = ((try? String(contentsOfFile: "/proc/self/task/\(thread)/syscall", encoding: .utf8)) ?? "").split(
            separator: " ")
        if let number = fields.first.flatMap({ Int($0) }), calls.contains(number),
            firstArgument == nil
                || fields.dropFirst().first.flatMap({ Int($0.dropFirst(2), radix: 16) }) == firstArgument
        {
            return true
        }
        usleep(1000)
    }
    return false
}
