import Foundation
import Glibc
import Logging
import PinJSON
@testable import PinServer

/// A fresh directory under /tmp, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/pinserver-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func write(_ name: String, _ text: String) {
        let fd = open(file(name), O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0)
        _ = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress!, $0.count - 1) }
        close(fd)
    }

    func read(_ name: String) -> String? {
        (try? SmallFile.read(file(name), limit: 1 << 20)).map { String(decoding: $0, as: UTF8.self) }
    }

    func mode(_ name: String) -> mode_t {
        var info = stat()
        return stat(file(name), &info) == 0 ? info.st_mode & 0o777 : 0
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

extension Logger {
    static let test = Logger(label: "pinserver-tests") { _ in SwiftLogNoOpLogHandler() }
}

extension HTTPResponse {
    /// The body parsed as a JSON object.
    var jsonObject: JSONObject? {
        (try? JSONCodec.parse(body))?.objectValue
    }
}
