import Dispatch
import Glibc
import LinuxFS
import Logging
import PinAssembly
import PinCore
import PinJSON
import Synchronization
import Testing

@testable import PinServer

@Suite("Descriptor hand-off")
struct DescriptorHandoffTests {
    static let adminToken = "admin-secret-0123456789"
    static let holderToken = "holder-secret-0123456789"
    static let contents = "the bytes of the leased file\n"

    static func tokens() -> TokenStore {
        TokenStore(
            entries: [
                TokenStore.Entry(token: Array(adminToken.utf8), principal: Principal(role: .admin, holder: nil)),
                TokenStore.Entry(token: Array(holderToken.utf8), principal: Principal(role: .holder, holder: "h1")),
            ], tokensFile: nil, adminTokenPath: nil, logger: .test)
    }

    /// The requests `authorize` was called with.
    final class Recorder: Sendable {
        private let requests = Mutex<[DescriptorHandoffRequest]>([])

        func record(_ request: DescriptorHandoffRequest) {
            requests.withLock { $0.append(request) }
        }

        var all: [DescriptorHandoffRequest] {
            requests.withLock { $0 }
        }
    }

    /// An `authorize` that grants `access` to the file at `path`, opened afresh for each request.
    static func granting(_ path: String, access: PinAccess, recorder: Recorder = Recorder())
        -> DescriptorHandoffListener.Authorize
    {
        { request throws(CoreError) in
            recorder.record(request)
            let fd = open(path, (access == .write ? O_RDWR : O_RDONLY) | O_CLOEXEC)
            guard fd >= 0 else { throw CoreError(.systemError, "cannot open \(path)") }
            return HandedOffDescriptor(
                descriptor: OpenFile(adopting: fd, path: path), access: access, path: "data:leased.bin",
                offset: 4096, length: 8192, leaseID: request.leaseID, pinID: "pin_test")
        }
    }

    /// A started listener on a socket in `directory`, stopped after `body`.
    static func withListener(
        in directory: TemporaryDirectory, requestTimeout: Duration = .seconds(5), logger: Logger = .test,
        authorize: @escaping DescriptorHandoffListener.Authorize, _ body: (String) throws -> Void
    ) throws {
        let listener = DescriptorHandoffListener(
            path: directory.file("pinlease.sock.fd"), tokens: tokens(), logger: logger,
            requestTimeout: requestTimeout, authorize: authorize)
        try listener.start()
        defer { listener.stop() }
        try body(listener.path)
    }

    /// `lstat(2)` of `path`, nil when it does not exist.
    static func statPath(_ path: String) -> stat? {
        var info = stat()
        return lstat(path, &info) == 0 ? info : nil
    }

    /// What a client got back: the reply line as an object, and the descriptor that came with it.
    struct Reply {
        let object: JSONObject
        let descriptor: OpenFile?

        var status: Int64? { object["status"]?.int64Value }
        var type: String? { object["type"]?.stringValue }
    }

    /// Connects, sends `line` (nothing when empty), and reads the one reply line.
    static func exchange(_ path: String, line: [UInt8]) throws -> Reply {
        let socket = try UnixSocket.connect(path: path)
        if !line.isEmpty { try socket.send(line) }
        return try reply(on: socket)
    }

    static func exchange(_ path: String, leaseID: String = "lease_1", token: String?) throws -> Reply {
        var object: JSONObject = ["lease_id": .string(leaseID)]
        if let token { object["token"] = .string(token) }
        return try exchange(path, line: DescriptorHandoffExchange.line(.object(object)))
    }

    static func reply(on socket: UnixSocket) throws -> Reply {
        let (bytes, descriptor) = try socket.receiveWithDescriptor(maxBytes: 1 << 16, timeout: .seconds(60))
        #expect(bytes.last == UInt8(ascii: "\n"))
        let object = try #require(try JSONCodec.parse(bytes).objectValue)
        return Reply(object: object, descriptor: descriptor)
    }

    @Test("a read grant hands over a read-only descriptor of the same file; authorize sees the holder and the peer")
    func readGrant() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.write("leased.bin", Self.contents)
        let recorder = Recorder()
        try Self.withListener(
            in: directory, authorize: Self.granting(directory.file("leased.bin"), access: .read, recorder: recorder)
        ) { path in
            let reply = try Self.exchange(path, leaseID: "lease_abc", token: Self.holderToken)
            #expect(
                reply.object == [
                    "lease_id": "lease_abc", "pin_id": "pin_test", "path": "data:leased.bin", "offset": 4096,
                    "length": 8192, "access": "read",
                ])
            let descriptor = try #require(reply.descriptor)
            var buffer = [UInt8](repeating: 0, count: 100)
            let count = pread(descriptor.fd, &buffer, buffer.count, 0)
            #expect(String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self) == Self.contents)
            let original = try #require(Self.statPath(directory.file("leased.bin")))
            let received = try descriptor.status()
            #expect(received.device == UInt64(original.st_dev) && received.inode == UInt64(original.st_ino))
            #expect(fcntl(descriptor.fd, F_GETFL) & O_ACCMODE == O_RDONLY)
        }
        let requests = recorder.all
        #expect(requests.count == 1)
        #expect(requests.first?.leaseID == "lease_abc")
        #expect(requests.first?.holder == "h1")
        #expect(requests.first?.peer == PeerCredentials(pid: getpid(), uid: getuid(), gid: getgid()))
    }

    @Test("a write grant's descriptor is open read-write; an admin token has no holder")
    func writeGrant() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.write("leased.bin", Self.contents)
        let recorder = Recorder()
        try Self.withListener(
            in: directory, authorize: Self.granting(directory.file("leased.bin"), access: .write, recorder: recorder)
        ) { path in
            let reply = try Self.exchange(path, token: Self.adminToken)
            #expect(reply.object["access"] == "write")
            let descriptor = try #require(reply.descriptor)
            #expect(fcntl(descriptor.fd, F_GETFL) & O_ACCMODE == O_RDWR)
            #expect(pwrite(descriptor.fd, "THE", 3, 0) == 3)
        }
        #expect(directory.read("leased.bin") == "THE" + Self.contents.dropFirst(3))
        #expect(recorder.all.count == 1)
        #expect(recorder.all.first?.holder == nil)
    }

    @Test(
        "a missing or unknown token is 401 unauthorized, with no descriptor and no call to authorize",
        arguments: [nil, "", "wrong-token", DescriptorHandoffTests.holderToken + "x"])
    func unauthorized(token: String?) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.write("leased.bin", Self.contents)
        let recorder = Recorder()
        try Self.withListener(
            in: directory, authorize: Self.granting(directory.file("leased.bin"), access: .read, recorder: recorder)
        ) { path in
            let reply = try Self.exchange(path, token: token)
            #expect(reply.status == 401)
            #expect(reply.type == "https://pinlease.dev/problems/unauthorized")
            #expect(reply.object["title"]?.stringValue?.isEmpty == false)
            #expect(reply.object["detail"]?.stringValue?.isEmpty == false)
            #expect(reply.descriptor == nil)
        }
        #expect(recorder.all.isEmpty)
    }

    /// Malformed request lines, and what the detail of their answer mentions.
    static let malformedCases: [(line: String, expected: String)] = [
        ("not json\n", "Malformed JSON"),
        ("\n", "Malformed JSON"),
        (#"["lease_1"]"# + "\n", "JSON object"),
        (#"{"token":"\#(holderToken)"}"# + "\n", "\"lease_id\""),
        (#"{"lease_id":"","token":"\#(holderToken)"}"# + "\n", "must not be empty"),
        (#"{"lease_id":7,"token":"\#(holderToken)"}"# + "\n", "\"lease_id\""),
        (#"{"lease_id":"lease_1","token":5}"# + "\n", "\"token\""),
        (#"{"lease_id":"lease_1","token":"\#(holderToken)","access":"write"}"# + "\n", "Unknown field \"access\""),
        (#"{"lease_id":"lease_1","lease_id":"lease_2","token":"\#(holderToken)"}"# + "\n", "Malformed JSON"),
        (String(repeating: "x", count: 5000) + "\n", "longer than 4096 bytes"),
    ]

    @Test("a malformed request line is 400 invalid-request", arguments: malformedCases)
    func malformedLines(line: String, expected: String) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = Recorder()
        try Self.withListener(
            in: directory, authorize: Self.granting("/nonexistent", access: .read, recorder: recorder)
        ) { path in
            let reply = try Self.exchange(path, line: Array(line.utf8))
            #expect(reply.status == 400)
            #expect(reply.type == "https://pinlease.dev/problems/invalid-request")
            let detail = reply.object["detail"]?.stringValue ?? ""
            #expect(detail.contains(expected), "\(detail)")
            #expect(reply.descriptor == nil)
        }
        #expect(recorder.all.isEmpty)
    }

    @Test("a line of exactly 4096 bytes is accepted")
    func longestLine() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.write("leased.bin", Self.contents)
        try Self.withListener(in: directory, authorize: Self.granting(directory.file("leased.bin"), access: .read)) {
            path in
            let head = #"{"lease_id":""#
            let tail = #"","token":"\#(DescriptorHandoffTests.holderToken)"}"# + "\n"
            let line = head + String(repeating: "l", count: 4096 - head.utf8.count - tail.utf8.count) + tail
            #expect(line.utf8.count == 4096)
            let reply = try Self.exchange(path, line: Array(line.utf8))
            #expect(reply.object["access"] == "read")
            #expect(reply.descriptor != nil)
        }
    }

    @Test("a client that closes its sending side before the newline is 400 invalid-request")
    func endsBeforeNewline() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Self.withListener(in: directory, authorize: Self.granting("/nonexistent", access: .read)) { path in
            let socket = try UnixSocket.connect(path: path)
            try socket.send(Array(#"{"lease_id":"lease_1","token":"\#(DescriptorHandoffTests.holderToken)"}"#.utf8))
            #expect(Glibc.shutdown(socket.fd, Int32(SHUT_WR)) == 0)
            let reply = try Self.reply(on: socket)
            #expect(reply.status == 400)
            #expect(reply.object["detail"]?.stringValue?.contains("newline") == true)
        }
    }

    @Test("a client that sends nothing is cut after the timeout while others are served")
    func silentClient() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.write("leased.bin", Self.contents)
        try Self.withListener(in: directory, authorize: Self.granting(directory.file("leased.bin"), access: .read)) {
            path in
            let connected = ContinuousClock.now
            let silent = try UnixSocket.connect(path: path)
            for _ in 0..<3 {
                let reply = try Self.exchange(path, token: Self.holderToken)
                #expect(reply.descriptor != nil)
            }
            let servedAfter = ContinuousClock.now - connected
            var request = pollfd(fd: silent.fd, events: Int16(POLLIN), revents: 0)
            // Only meaningful while within the silent client's 5 s.
            if servedAfter < .seconds(4) { #expect(poll(&request, 1, 0) == 0, "the silent client was answered early") }

            let reply = try Self.reply(on: silent)
            let cutAfter = ContinuousClock.now - connected
            #expect(reply.status == 400)
            #expect(reply.type == "https://pinlease.dev/problems/invalid-request")
            #expect(reply.object["detail"]?.stringValue?.contains("within 5") == true)
            #expect(cutAfter >= .seconds(5))
            #expect(cutAfter < .seconds(60))
        }
    }

    @Test(
        "a CoreError from authorize is answered with its slug, status, detail and extensions",
        arguments: [(.leaseNotFound, 404), (.leaseNotActive, 409), (.peerNotAllowed, 403), (.systemError, 500)]
            as [(CoreErrorCode, Int64)])
    func coreErrors(code: CoreErrorCode, status: Int64) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let refuse: DescriptorHandoffListener.Authorize = { request throws(CoreError) in
            throw CoreError(code, "refused \(request.leaseID)", extensions: ["lease_id": .text(request.leaseID)])
        }
        try Self.withListener(in: directory, authorize: refuse) { path in
            let reply = try Self.exchange(path, leaseID: "lease_9", token: Self.holderToken)
            #expect(
                reply.object == [
                    "type": .string("https://pinlease.dev/problems/\(code.rawValue)"), "title": .string(code.title),
                    "status": .int(status),
                    "detail": "refused lease_9", "lease_id": "lease_9",
                ])
            #expect(reply.descriptor == nil)
        }
    }

    @Test("the core's placeholder answers lease-not-found")
    func corePlaceholder() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        mkdir(directory.file("data"), 0o755)
        mkdir(directory.file("state"), 0o700)
        let core = try PinCoreService(
            configuration: CoreConfiguration(
                roots: [RootSpec(name: "data", path: directory.file("data"))], stateDirectory: directory.file("state")),
            logger: .test)
        defer { core.shutdown() }
        let authorize: DescriptorHandoffListener.Authorize = { request throws(CoreError) in
            try core.handOffDescriptor(request)
        }
        try Self.withListener(in: directory, authorize: authorize) { path in
            let reply = try Self.exchange(path, leaseID: "lease_404", token: Self.adminToken)
            #expect(reply.status == 404)
            #expect(reply.type == "https://pinlease.dev/problems/lease-not-found")
            #expect(reply.object["lease_id"] == "lease_404")
        }
    }

    @Test("the socket file has mode 0660 and a second listener on it fails to start")
    func socketFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Self.withListener(in: directory, authorize: Self.granting("/nonexistent", access: .read)) { path in
            #expect(directory.mode("pinlease.sock.fd") == 0o660)
            let second = DescriptorHandoffListener(
                path: path, tokens: Self.tokens(), logger: .test,
                authorize: Self.granting("/nonexistent", access: .read))
            #expect(throws: HTTPServerError.self) { try second.start() }
            #expect(Self.statPath(path) != nil, "the failed start left the live socket alone")
        }
    }

    @Test("stop wakes waiting clients, removes the socket file and is idempotent; deinit stops too")
    func stop() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let listener = DescriptorHandoffListener(
            path: directory.file("a.sock.fd"), tokens: Self.tokens(), logger: .test,
            requestTimeout: .seconds(120), authorize: Self.granting("/nonexistent", access: .read))
        try listener.start()
        let waiting = try UnixSocket.connect(path: listener.path)
        // Accepted and being served (waiting for its request line), not left in the backlog.
        let accepted = ContinuousClock.now + .seconds(60)
        while listener.connectionsBeingServed < 1, ContinuousClock.now < accepted { usleep(1000) }
        #expect(listener.connectionsBeingServed == 1, "the listener never accepted the client")
        let start = ContinuousClock.now
        listener.stop()
        #expect(ContinuousClock.now - start < .seconds(60), "stop waited for the silent client's timeout")
        #expect(Self.statPath(listener.path) == nil)
        #expect(throws: LinuxError.self) { try UnixSocket.connect(path: listener.path) }
        #expect((try? waiting.receiveWithDescriptor(maxBytes: 1 << 16, timeout: .seconds(60)).descriptor) == nil)
        listener.stop()

        var dropped: DescriptorHandoffListener? = DescriptorHandoffListener(
            path: directory.file("b.sock.fd"), tokens: Self.tokens(), logger: .test,
            authorize: Self.granting("/nonexistent", access: .read))
        try dropped?.start()
        #expect(Self.statPath(directory.file("b.sock.fd")) != nil)
        dropped = nil
        #expect(Self.statPath(directory.file("b.sock.fd")) == nil)
    }

    @Test("hand-offs are logged at info and refusals at notice, never with the token")
    func logging() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.write("leased.bin", Self.contents)
        let records = LogRecords()
        let logger = Logger(label: "handoff-test") { _ in CapturingLogHandler(records: records) }
        try Self.withListener(
            in: directory, logger: logger, authorize: Self.granting(directory.file("leased.bin"), access: .write)
        ) { path in
            _ = try Self.exchange(path, leaseID: "lease_ok", token: Self.holderToken)
            _ = try Self.exchange(path, leaseID: "lease_bad", token: Self.adminToken + "-wrong")
        }
        let all = records.all
        #expect(
            all.contains {
                $0.level == .info && $0.message.contains("lease_ok") && $0.message.contains("write")
                    && $0.message.contains("pid \(getpid())")
            })
        #expect(all.contains { $0.level == .notice && $0.message.contains("lease_bad") && $0.message.contains("401") })
        #expect(!all.contains { $0.message.contains(Self.holderToken) || $0.message.contains(Self.adminToken) })
    }
}

/// Log messages captured by ``CapturingLogHandler``.
final class LogRecords: Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
    }

    private let records = Mutex<[Record]>([])

    func append(_ record: Record) {
        records.withLock { $0.append(record) }
    }

    var all: [Record] {
        records.withLock { $0 }
    }
}

/// Keeps every message (metadata included in the text) in a ``LogRecords``.
struct CapturingLogHandler: LogHandler {
    let records: LogRecords
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let metadata = self.metadata.merging(event.metadata ?? [:]) { $1 }
        records.append(LogRecords.Record(level: event.level, message: "\(event.message) \(metadata)"))
    }
}
