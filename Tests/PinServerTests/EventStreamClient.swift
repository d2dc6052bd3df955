import Glibc

@testable import PinServer

/// A blocking client of one event stream: sends `GET path` and reads the response as it
/// arrives, undoing chunked transfer encoding. Every wait is bounded by a timeout.
final class EventStreamClient {
    private let fd: Int32
    private var received: [UInt8] = []
    private var headEnd: Int?
    private var chunked = false
    /// The decoded body so far.
    private(set) var body: [UInt8] = []
    /// The server ended the response (last chunk, or the connection closed).
    private(set) var ended = false
    private(set) var status = 0
    private(set) var headers: [(String, String)] = []

    /// Connects and sends the request; `receiveBufferBytes` keeps the TCP window small for a
    /// client that does not read.
    init(port: UInt16, path: String = "/v1/events", headers: [String: String] = [:], receiveBufferBytes: Int32? = nil)
        throws
    {
        fd = try RawHTTPClient.connect(.tcp(port: port), receiveBufferBytes: receiveBufferBytes)
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var head = "GET \(path) HTTP/1.1\r\nHost: localhost\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let bytes = Array((head + "\r\n").utf8)
        guard bytes.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count
        else {
            Glibc.close(fd)
            throw RawHTTPClient.Failure(description: "sending the request failed: errno \(errno)")
        }
    }

    deinit {
        Glibc.close(fd)
    }

    /// The body as text.
    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// Reads until the response head has arrived; false on timeout.
    func readHead(timeout: Duration) -> Bool {
        readUntil(timeout: timeout) { $0.headEnd != nil }
    }

    /// Reads until the body contains `marker`; false on timeout or when the stream ended first.
    func read(untilContains marker: String, timeout: Duration) -> Bool {
        let needle = Array(marker.utf8)
        var searchedUpTo = 0
        return readUntil(timeout: timeout) { client in
            defer { searchedUpTo = max(0, client.body.count - needle.count + 1) }
            return client.body.contains(needle, from: searchedUpTo)
        }
    }

    /// Reads until the server ends the response; false on timeout.
    func readToEnd(timeout: Duration) -> Bool {
        readUntil(timeout: timeout) { $0.ended }
    }

    /// The `id:` of every event in the body so far, in order.
    var eventIDs: [UInt64] {
        text.split(separator: "\n").compactMap { line in line.hasPrefix("id: ") ? UInt64(line.dropFirst(4)) : nil }
    }

    private func readUntil(timeout: Duration, _ done: (EventStreamClient) -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !done(self) {
            guard !ended, ContinuousClock.now < deadline else { return false }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if count > 0 {
                received += buffer[0..<count]
                decode()
            } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                ended = true
            }
        }
        return true
    }

    /// Moves what arrived into the head fields and the decoded body.
    private func decode() {
        if headEnd == nil {
            guard let end = received.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound else { return }
            headEnd = end
            let lines = String(decoding: received[..<end], as: UTF8.self).split(separator: "\r\n")
            status = lines.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
            headers = lines.dropFirst().compactMap { line in
                line.firstIndex(of: ":").map {
                    (String(line[..<$0]), String(line[line.index(after: $0)...]).trimmingWhitespace)
                }
            }
            chunked = header("Transfer-Encoding")?.lowercased() == "chunked"
            received.removeFirst(end)
        }
        guard chunked else {
            body += received
            received.removeAll()
            return
        }
        while let lineEnd = received.firstRange(of: Array("\r\n".utf8)) {
            let sizeText =
                String(decoding: received[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText, radix: 16) else {
                ended = true
                return
            }
            guard size > 0 else {
                ended = true
                return
            }
            guard received.count >= lineEnd.upperBound + size + 2 else { return }
            body += received[lineEnd.upperBound..<lineEnd.upperBound + size]
            received.removeFirst(lineEnd.upperBound + size + 2)
        }
    }
}

extension [UInt8] {
    /// Whether `needle` occurs at or after index `start`.
    fileprivate func contains(_ needle: [UInt8], from start: Int) -> Bool {
        guard start < count else { return false }
        return self[start...].firstRange(of: needle) != nil
    }
}
