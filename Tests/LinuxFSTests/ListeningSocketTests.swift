import Glibc
import LinuxFS
import Testing

@Suite("Listening sockets")
struct ListeningSocketTests {
    static func isNonBlocking(_ fd: Int32) -> Bool {
        fcntl(fd, F_GETFL) & O_NONBLOCK != 0
    }

    static func isCloseOnExec(_ fd: Int32) -> Bool {
        fcntl(fd, F_GETFD) & FD_CLOEXEC != 0
    }

    @Test("a Unix listener replaces a stale socket file; close removes the file")
    func unixReplacesStaleFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = "\(directory.path)/api.sock"
        let stale = try ListeningSocket.unix(path: path, mode: 0o600)
        _ = Glibc.close(stale.fd)  // its file stays behind, refusing connections
        #expect(statPath(path) != nil)

        let listener = try ListeningSocket.unix(path: path, mode: 0o660, nonBlocking: true)
        #expect(listener.address == "unix:\(path)" && listener.unixPath == path)
        #expect(Self.isNonBlocking(listener.fd) && Self.isCloseOnExec(listener.fd))
        #expect(statPath(path).map { $0.st_mode & 0o777 } == 0o660)
        let client = try UnixSocket.connect(path: path)
        #expect(client.path == path)
        listener.close()
        #expect(statPath(path) == nil)
    }

    @Test("a live Unix listener, or another kind of file, is not replaced")
    func unixRefusesLiveOrForeignFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = "\(directory.path)/api.sock"
        let live = try ListeningSocket.unix(path: path, mode: 0o600)
        defer { live.close() }
        let inUse = linuxError { try ListeningSocket.unix(path: path, mode: 0o600) }
        #expect(inUse?.code == .addressInUse && inUse?.call == "bind" && inUse?.path == path)
        #expect(try UnixSocket.connect(path: path).path == path)  // the live one still serves

        let plain = "\(directory.path)/plain"
        _ = try directory.create("plain")
        let foreign = linuxError { try ListeningSocket.unix(path: plain, mode: 0o600) }
        #expect(foreign?.code == .fileExists && foreign?.call == "bind")
        #expect(statPath(plain).map { $0.st_mode & S_IFMT == S_IFREG } == true)

        let long = "\(directory.path)/" + String(repeating: "x", count: ListeningSocket.maximumUnixPathLength)
        #expect(linuxError { try ListeningSocket.unix(path: long, mode: 0o600) }?.code == .fileNameTooLong)
    }

    @Test("removeSocketFile leaves the descriptor open")
    func removeSocketFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = "\(directory.path)/api.sock"
        let listener = try ListeningSocket.unix(path: path, mode: 0o600)
        listener.removeSocketFile()
        #expect(statPath(path) == nil)
        #expect(fcntl(listener.fd, F_GETFD) >= 0)
        _ = Glibc.close(listener.fd)
    }

    @Test("a TCP listener reports the port it got; a second one on that port fails in bind")
    func tcpOnLoopback() throws {
        let addresses = try SocketAddress.forListening(host: "127.0.0.1", port: 0)
        #expect(addresses.map(\.description) == ["127.0.0.1:0"])
        let first = try ListeningSocket.tcp(addresses[0], nonBlocking: true)
        defer { first.close() }
        #expect(first.unixPath == nil && Self.isNonBlocking(first.fd) && Self.isCloseOnExec(first.fd))
        let port = try #require(first.address.split(separator: ":").last.flatMap { UInt16($0) })
        #expect(first.address == "127.0.0.1:\(port)" && port != 0)

        let again = try SocketAddress.forListening(host: "127.0.0.1", port: port)
        let inUse = linuxError { try ListeningSocket.tcp(again[0], name: "loopback") }
        #expect(inUse?.code == .addressInUse && inUse?.call == "bind" && inUse?.path == "loopback")
    }

    @Test("an IPv6 listener is named in brackets")
    func tcpOnIPv6Loopback() throws {
        let addresses = try SocketAddress.forListening(host: "::1", port: 0)
        #expect(addresses.map(\.description) == ["[::1]:0"])
        let listener = try ListeningSocket.tcp(addresses[0])
        defer { listener.close() }
        #expect(listener.address.hasPrefix("[::1]:") && listener.address != "[::1]:0")
    }

    @Test("shutdownSocket ends the stream for the peer without closing the descriptor")
    func shutdownSocketEndsStream() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let listener = try UnixSocket.listen(path: "\(directory.path)/s.sock", mode: 0o600)
        let client = try UnixSocket.connect(path: listener.path)
        let server = try listener.accept()
        shutdownSocket(server.fd)
        #expect(try client.receive(maxBytes: 10, timeout: .seconds(30)).isEmpty)
        #expect(fcntl(server.fd, F_GETFD) >= 0)
    }
}
