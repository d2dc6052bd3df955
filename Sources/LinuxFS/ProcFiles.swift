import Glibc

/// Small readers for `/proc` files, which report a size of 0 and must be read to EOF.
enum ProcFiles {
    /// The whole contents of the file at `path`, or `nil` if it cannot be opened or read
    /// (a process that vanished, a denied access, …).
    static func read(_ path: String) -> [UInt8]? {
        guard let fd = try? retryingOnInterrupt("open", { open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY) }) else {
            return nil
        }
        defer { _ = close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                contents.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                return contents
            } else if Glibc.errno != EINTR {
                return nil
            }
        }
    }

    /// The whole contents of the file at `path` as text, or `nil` when unreadable.
    static func readText(_ path: String) -> String? {
        read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The names in the directory at `path` (without `.` and `..`), or `nil` when it
    /// cannot be opened.
    static func entries(of path: String) -> [String]? {
        guard let directory = opendir(path) else { return nil }
        defer { _ = closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
