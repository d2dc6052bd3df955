import Foundation
import Glibc
import Synchronization

/// A small HTTP/1.1 server on 127.0.0.1 for webhook tests: keep-alive connections, one thread
/// each; every request (request line, headers, Content-Length body) is recorded, and answered
/// with what `respond` says for it (status, headers, a delay before answering).
final class LoopbackReceiver: Sendable {
    struct Request: Sendable {
        let method: String
        let path: String
        /// Header names lowercased.
        let headers: [String: String]
        let body: [UInt8]
        /// Wall-clock epoch seconds when the request was complete.
        let receivedAt: Double
        /// Which connection it came on (connections are numbered from 1 as they are accepted).
        let connection: Int
    }

    struct Response: Sendable {
        var status = 200
        var headers: [(String, String)] = []
        var delay = 0.0
    }

    private struct State {
        var requests: [Request] = []
        var connections: Set<Int32> = []
        var accepted = 0
        var stopped = false
    }

    let port: UInt16
    private let listener: Int32
    private let state = Mutex(State())
    private let respond: @Sendable (_ index: Int, _ request: Request) -> Response

    /// Listens on an ephemeral port of 127.0.0.1 until ``stop()`` (which every test must call).
    init(respond: @escaping @Sendable (_ index: Int, _ request: Request) -> Response = { _, _ in Response() }) throws {
        self.respond = respond
        let (listener, port) = try Self.bindLoopback()
        guard Glibc.listen(listener, 512) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        self.listener = listener
        self.port = port
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "loopback-receiver"
        thread.start()
    }

    /// A port on 127.0.0.1 that nothing listens on (bound, then closed).
    static func unusedPort() throws -> UInt16 {
        let (socket, port) = try bindLoopback()
        close(socket)
        return port
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    var requests: [Request] { state.withLock { $0.requests } }

    /// Closes the listener and every connection; responses still being delayed are dropped.
    func stop() {
        state.withLock { state in
            state.stopped = true
            Glibc.shutdown(listener, Int32(SHUT_RDWR))
            for connection in state.connections { Glibc.shutdown(connection, Int32(SHUT_RDWR)) }
        }
    }

    private static func bindLoopback() throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                break
            }
            let number = state.withLock { state -> Int? in
                guard !state.stopped else { return nil }
                state.connections.insert(connection)
                state.accepted += 1
                return state.accepted
            }
            guard let number else {
                close(connection)
                break
            }
            let thread = Thread { [self] in serve(connection, number: number) }
            thread.start()
        }
        close(listener)
    }

    private func serve(_ connection: Int32, number: Int) {
        defer {
            state.withLock { _ = $0.connections.remove(connection) }
            close(connection)
        }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() -> Bool {
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            buffer += chunk[..<count]
            return true
        }
        let separator = Array("\r\n\r\n".utf8)
        while true {
            var headEnd: Int?
            while headEnd == nil {
                headEnd = buffer.indices.dropLast(3).first { buffer[$0..<($0 + 4)].elementsEqual(separator) }
                if headEnd == nil && !fill() { return }
            }
            let lines = String(decoding: buffer[..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
            let requestLine = lines[0].split(separator: " ")
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                    in: .whitespaces)
            }
            let bodyLength = Int(headers["content-length"] ?? "0") ?? 0
            let bodyStart = headEnd! + 4
            while buffer.count < bodyStart + bodyLength {
                if !fill() { return }
            }
            let request = Request(
                method: requestLine.count > 0 ? String(requestLine[0]) : "",
                path: requestLine.count > 1 ? String(requestLine[1]) : "",
                headers: headers, body: Array(buffer[bodyStart..<(bodyStart + bodyLength)]),
                receivedAt: Date().timeIntervalSince1970,
                connection: number)
            buffer.removeFirst(bodyStart + bodyLength)
            let index = state.withLock { state in
                state.requests.append(request)
                return state.requests.count - 1
            }
            let response = respond(index, request)
            let until = Date().addingTimeInterval(response.delay)
            while Date() < until {
                if state.withLock({ $0.stopped }) { return }
                usleep(20_000)
            }
            var text = "HTTP/1.1 \(response.status) Scripted\r\nContent-Length: 2\r\n"
            for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
            text += "\r\nok"
            let bytes = Array(text.utf8)
            var sent = 0
            while sent < bytes.count {
                let count = bytes[sent...].withUnsafeBytes {
                    send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                guard count > 0 else { return }
                sent += count
            }
        }
    }
}
