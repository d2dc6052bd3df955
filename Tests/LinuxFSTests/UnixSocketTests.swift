import Dispatch
import Foundation
import Glibc
import LinuxFS
import Synchronization
import Testing

@Suite("Unix sockets")
struct UnixSocketTests {
    /// A listener in `directory`, a client connected to it and the server end of that connection.
    struct Connection {
        let listener: UnixSocket
        let client: UnixSocket
        let server: UnixSocket
    }

    static func connect(in directory: TemporaryDirectory, name: String = "s.sock") throws -> Connection {
        let listener = try UnixSocket.listen(path: "\(directory.path)/\(name)", mode: 0o600)
        let client = try UnixSocket.connect(path: listener.path)
        return Connection(listener: listener, client: client, server: try listener.accept())
    }

    static func isCloseOnExec(_ fd: Int32) -> Bool {
        fcntl(fd, F_GETFD) & FD_CLOEXEC != 0
    }

    /// How many descriptors of this process refer to `path`.
    static func descriptors(of path: String) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return entries.filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == path
        }.count
    }

    @Test("listen creates a socket file with the mode; every socket is close-on-exec")
    func listenCreatesSocketFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = "\(directory.path)/api.sock"
        let listener = try UnixSocket.listen(path: path, mode: 0o660)
        let info = try #require(statPath(path))
        #expect(info.st_mode & S_IFMT == S_IFSOCK)
        #expect(info.st_mode & 0o777 == 0o660)
        let client = try UnixSocket.connect(path: path)
        let server = try listener.accept()
        #expect(listener.path == path && client.path == path && server.path == path)
        for socket in [listener, client, server] {
            #expect(Self.isCloseOnExec(socket.fd))
        }
    }

    @Test("receive stops after each newline, at the limit and at the end of the stream")
    func receivesLines() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let listener = try UnixSocket.listen(path: "\(directory.path)/s.sock", mode: 0o600)
        var client: UnixSocket? = try UnixSocket.connect(path: listener.path)
        let server = try listener.accept()
        try client?.send(Array("first\nsecond\npartial".utf8))
        #expect(try server.receive(maxBytes: 100, timeout: .seconds(30)) == Array("first\n".utf8))
        #expect(try server.receive(maxBytes: 100, timeout: .seconds(30)) == Array("second\n".utf8))
        #expect(try server.receive(maxBytes: 4, timeout: .seconds(30)) == Array("part".utf8))
        client = nil  // closes it
        #expect(try server.receive(maxBytes: 100, timeout: .seconds(30)) == Array("ial".utf8))
        #expect(try server.receive(maxBytes: 100, timeout: .seconds(30)) == [])
    }

    @Test("a sent descriptor arrives close-on-exec and refers to the same file; the sender keeps its own")
    func passesDescriptor() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("data.bin")
        try file.fill(0x5A, count: 4096, at: 0)
        let connection = try Self.connect(in: directory)
        try connection.server.send(Array("ok\nnext\n".utf8), descriptor: file.fd)

        let (bytes, descriptor) = try connection.client.receiveWithDescriptor(maxBytes: 100, timeout: .seconds(30))
        #expect(bytes == Array("ok\n".utf8))
        let received = try #require(descriptor)
        #expect(received.fd != file.fd)
        #expect(Self.isCloseOnExec(received.fd))
        let sent = try file.status()
        let arrived = try received.status()
        #expect(arrived.device == sent.device && arrived.inode == sent.inode)
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(pread(received.fd, &buffer, buffer.count, 100) == 16)
        #expect(buffer == [UInt8](repeating: 0x5A, count: 16))
        #expect(fcntl(file.fd, F_GETFD) >= 0)

        // The descriptor came with the first line only.
        let rest = try connection.client.receiveWithDescriptor(maxBytes: 100, timeout: .seconds(30))
        #expect(rest.bytes == Array("next\n".utf8))
        #expect(rest.descriptor == nil)
    }

    @Test("receive without a descriptor discards one that was sent")
    func discardsDescriptor() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("data.bin")
        let connection = try Self.connect(in: directory)
        try connection.client.send(Array("line\n".utf8), descriptor: file.fd)
        #expect(try connection.server.receive(maxBytes: 100, timeout: .seconds(30)) == Array("line\n".utf8))
        #expect(Self.descriptors(of: "\(directory.path)/data.bin") == 1)
    }

    @Test("both ends see this process's credentials")
    func peerCredentials() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let connection = try Self.connect(in: directory)
        let expected = PeerCredentials(pid: getpid(), uid: getuid(), gid: getgid())
        #expect(try connection.server.peerCredentials() == expected)
        #expect(try connection.client.peerCredentials() == expected)
    }

    @Test("receive gives up with ETIMEDOUT when no whole line arrives in time")
    func timesOut() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let connection = try Self.connect(in: directory)
        let start = ContinuousClock.now
        let silent = linuxError { try connection.server.receive(maxBytes: 100, timeout: .milliseconds(300)) }
        #expect(silent?.errno == ETIMEDOUT)
        #expect(silent?.call == "poll")
        #expect(ContinuousClock.now - start >= .milliseconds(300))

        try connection.client.send(Array("no newline".utf8))
        #expect(
            linuxError { try connection.server.receive(maxBytes: 100, timeout: .milliseconds(300)) }?.errno == ETIMEDOUT
        )
    }

    @Test("a stale socket file is replaced; a live one, or another kind of file, is refused")
    func staleSocketFiles() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = "\(directory.path)/s.sock"
        var live: UnixSocket? = try UnixSocket.listen(path: path, mode: 0o600)
        #expect(linuxError { try UnixSocket.listen(path: path, mode: 0o600) }?.errno == EADDRINUSE)
        #expect(live != nil)
        live = nil  // closed; its file stays behind
        #expect(linuxError { try UnixSocket.connect(path: path) }?.errno == ECONNREFUSED)

        let replacement = try UnixSocket.listen(path: path, mode: 0o600)
        let client = try UnixSocket.connect(path: path)
        try client.send(Array("hello\n".utf8))
        #expect(try replacement.accept().receive(maxBytes: 100, timeout: .seconds(30)) == Array("hello\n".utf8))

        let plain = "\(directory.path)/plain"
        _ = try directory.create("plain")
        #expect(linuxError { try UnixSocket.listen(path: plain, mode: 0o600) }?.errno == EEXIST)
        #expect(statPath(plain).map { $0.st_mode & S_IFMT == S_IFREG } == true)
    }

    @Test("paths that do not fit, and sockets that do not exist, are errors")
    func badPaths() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let long = "\(directory.path)/" + String(repeating: "x", count: 120)
        #expect(linuxError { try UnixSocket.listen(path: long, mode: 0o600) }?.errno == ENAMETOOLONG)
        #expect(linuxError { try UnixSocket.listen(path: "", mode: 0o600) }?.errno == EINVAL)
        let missing = linuxError { try UnixSocket.connect(path: "\(directory.path)/missing.sock") }
        #expect(missing?.errno == ENOENT)
        #expect(missing?.call == "connect")
    }

    @Test("shutdown wakes a blocked accept and a blocked receive")
    func shutdownWakesBlockedCalls() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let connection = try Self.connect(in: directory)
        let acceptReturned = DispatchSemaphore(value: 0)
        let receiveReturned = DispatchSemaphore(value: 0)
        let threads = Mutex<(accept: Int32, receive: Int32)>((-1, -1))
        Thread.detachNewThread {
            threads.withLock { $0.accept = currentThreadID() }
            #expect(linuxError { try connection.listener.accept() }?.errno == EINVAL)
            acceptReturned.signal()
        }
        Thread.detachNewThread {
            threads.withLock { $0.receive = currentThreadID() }
            #expect((try? connection.server.receive(maxBytes: 100, timeout: .seconds(120))) == [])
            receiveReturned.signal()
        }
        // Both calls must be asleep in the kernel before the shutdown, or this would only test
        // calls made after it.
        let deadline = ContinuousClock.now + .seconds(60)
        while threads.withLock({ $0.accept < 0 || $0.receive < 0 }), ContinuousClock.now < deadline { usleep(1000) }
        let (acceptThread, receiveThread) = threads.withLock { ($0.accept, $0.receive) }
        #expect(
            waitUntilBlocked(thread: acceptThread, in: [SystemCall.accept4], firstArgument: Int(connection.listener.fd))
        )
        #expect(waitUntilBlocked(thread: receiveThread, in: SystemCall.polls))
        connection.listener.shutdown()
        connection.server.shutdown()
        #expect(acceptReturned.wait(timeout: .now() + 60) == .success)
        #expect(receiveReturned.wait(timeout: .now() + 60) == .success)
    }

    @Test("sending to a closed peer fails with EPIPE instead of raising SIGPIPE")
    func sendToClosedPeer() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let server: UnixSocket
        do {
            let connection = try Self.connect(in: directory)
            server = connection.server
        }
        let error = linuxError { try server.send(Array("anyone?\n".utf8)) }
        #expect(error?.errno == EPIPE)
        #expect(error?.call == "sendmsg")
    }
}
