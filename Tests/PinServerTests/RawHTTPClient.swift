import Glibc

@testable import PinServer

/// A minimal blocking HTTP/1.1 client over TCP or a Unix socket, enough to test the server:
/// one request per connection (`Connection: close`), response read to EOF.
enum RawHTTPClient {
    struct Reply {
        let status: Int
        let headers: [(String, String)]
        let body: String

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    enum Target {
        case tcp(port: UInt16)
        case unix(path: String)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Sends `method path` with optional headers and body; `chunked` sends the body in chunked encoding.
    static func send(
        _ target: Target, _ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = [],
        chunked: Bool = false
    ) throws -> Reply {
        let fd = try connect(target)
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head +=
            chunked
            ? "Transfer-Encoding: chunked\r\n\r\n"
            : (body.isEmpty && method == "GET" ? "\r\n" : "Content-Length: \(body.count)\r\n\r\n")
        var bytes = Array(head.utf8)
        if chunked {
            var offset = 0
            while offset < body.count {
                let end = min(offset + 65536, body.count)
                bytes +=
                    Array((String(end - offset, radix: 16) + "\r\n").utf8) + body[offset..<end] + Array("\r\n".utf8)
                offset = end
            }
            bytes += Array("0\r\n\r\n".utf8)
        } else {
            bytes += body
        }
        _ = writeAll(fd, bytes)
        return try parse(readAll(fd))
    }

    /// A connected socket; `receiveBufferBytes` fixes SO_RCVBUF (and so the TCP window) before connecting.
    static func connect(_ target: Target, receiveBufferBytes: Int32? = nil) throws -> Int32 {
        switch target {
        case .tcp(let port):
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            if var size = receiveBufferBytes {
                _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            guard ok else { throw Failure(description: "connect to port \(port) failed: errno \(errno)") }
            return fd
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
                }
            }
            guard ok else { throw Failure(description: "connect to \(path) failed: errno \(errno)") }
            return fd
        }
    }

    /// Writes until done or the peer stops reading (a server may answer early and close).
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if count <= 0 { return false }
            offset += count
        }
        return true
    }

    private static func readAll(_ fd: Int32) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if count <= 0 { break }
            result += buffer[0..<count]
        }
        return result
    }

    private static func parse(_ bytes: [UInt8]) throws -> Reply {
        let separator = Array("\r\n\r\n".utf8)
        guard let split = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else {
            throw Failure(description: "no response head in \(String(decoding: bytes, as: UTF8.self).debugDescription)")
        }
        let lines = bytes[..<split].split(separator: UInt8(ascii: "\n")).map {
            String(decoding: $0.last == UInt8(ascii: "\r") ? $0.dropLast() : $0, as: UTF8.self)
        }
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw Failure(description: "bad status line \(lines[0])")
        }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingWhitespace)
        }
        return Reply(status: status, headers: headers, body: String(decoding: bytes[(split + 4)...], as: UTF8.self))
    }
}
