import Glibc  // PinleaseClient's one libc file: stdio to read a token file, strerror(errno) for why it cannot be

/// The start of a small local file (a token file), read with stdio.
enum FilePrefix {
    /// Why a file could not be opened: the C library's text for `errno` (e.g. "No such file or directory").
    struct OpenError: Error {
        let reason: String
    }

    /// Up to `limit` bytes from the start of `path`.
    static func read(_ path: String, limit: Int) throws(OpenError) -> [UInt8] {
        guard let file = fopen(path, "r") else { throw OpenError(reason: String(cString: strerror(errno))) }
        defer { fclose(file) }
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = fread(&buffer, 1, buffer.count, file)
        return Array(buffer.prefix(count))
    }
}
