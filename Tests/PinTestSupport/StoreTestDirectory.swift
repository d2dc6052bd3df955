import Foundation
import Glibc
import LinuxFS

/// Test support shared by the test targets (not shipped). A fresh directory under /tmp for one
/// test's state database (and, for the root-only tests, its files). ``remove()`` clears any
/// immutable flag a failed test left behind first, since an immutable file cannot be removed.
public struct StoreTestDirectory {
    public let path: String

    public init(_ label: String) {
        var template = Array("/tmp/pinlease-\(label)-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { buffer in
            guard let created = mkdtemp(buffer.baseAddress!) else { fatalError("mkdtemp failed: errno \(errno)") }
            return String(cString: created)
        }
    }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Creates the subdirectory `name` and returns its path.
    @discardableResult
    public func makeDirectory(_ name: String) -> String {
        precondition(mkdir(file(name), 0o755) == 0, "mkdir \(name): errno \(errno)")
        return file(name)
    }

    public func remove() {
        if let names = FileManager.default.enumerator(atPath: path) {
            for case let name as String in names { clearImmutableFlag(file(name)) }
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Whether the tests run as root (the immutable flag, kernel leases on others' files, mlock).
    public static var isRoot: Bool { getuid() == 0 }
}

/// Clears the immutable flag of a regular file (best effort, for cleaning up).
public func clearImmutableFlag(_ path: String) {
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW)
    guard fd >= 0 else { return }
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
        close(fd)
        return
    }
    let file = OpenFile(adopting: fd, path: path)
    guard var flags = try? file.inodeFlags(), flags.contains(.immutable) else { return }
    flags.remove(.immutable)
    try? file.setInodeFlags(flags)
}
