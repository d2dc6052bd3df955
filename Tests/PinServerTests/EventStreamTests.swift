import Foundation
import Logging
import PinCore
import PinJSON
import PinWire
import Synchronization
import Testing

@testable import PinServer

/// `GET /v1/events` end to end: a live server on an ephemeral port, an ``EventLog`` the tests
/// publish to, and raw sockets as clients. Every wait is bounded by a generous timeout; no
/// test depends on tight timing.
@Suite("Event stream", .serialized)
struct EventStreamTests {
    static let adminToken = "events-admin-token"
    static let holderToken = "events-holder-h1-token"

    /// How long a test waits for something that a working server does at once.
    static let patience: Duration = .seconds(30)

    static func dispatcher(log: EventLog) -> RequestDispatcher {
        let tokens = TokenStore(
            entries: [
                .init(token: Array(adminToken.utf8), principal: Principal(role: .admin, holder: nil)),
                .init(token: Array(holderToken.utf8), principal: Principal(role: .holder, holder: "h1")),
            ],
            tokensFile: nil, adminTokenPath: nil, logger: .test)
        return RequestDispatcher(router: Router(EventRoutes.routes(events: log)), tokens: tokens, logger: .test)
    }

    /// Runs `body` against a started server streaming `log`, then stops it.
    static func withServer(
        log: EventLog, heartbeat: Double = 60, grace: UInt32 = 5, _ body: (PinHTTPServer, UInt16) throws -> Void
    ) throws {
        let configuration = ServerConfiguration(
            listenHost: "127.0.0.1", listenPort: 0, threads: 2, shutdownGraceSeconds: grace,
            eventHeartbeatSeconds: heartbeat)
        let server = PinHTTPServer(configuration: configuration, dispatcher: dispatcher(log: log), logger: .test)
        try server.start()
        defer { server.stop() }
        let port = try #require(server.listeningAddresses.first?.split(separator: ":").last.flatMap { UInt16($0) })
        try body(server, port)
    }

    /// An event of `holder`'s lease (`nil`: a file event); `padding` bytes of reason make it larger.
    static func event(_ sequence: UInt64, holder: String? = "h1", type: EventType = .leaseGranted, padding: Int = 0)
        -> Event
    {
        var data: JSONObject = ["lease_id": .string("l\(sequence)")]
        if let holder { data["holder"] = .string(holder) }
        if padding > 0 { data["reason"] = .string(String(repeating: "x", count: padding)) }
        return Event(sequence: sequence, type: type, timestamp: "2026-12-01T08:00:00Z", data: data, holder: holder)
    }

    static func events(_ range: ClosedRange<UInt64>, holder: String? = "h1", padding: Int = 0) -> [Event] {
        range.map { event($0, holder: holder, padding: padding) }
    }

    /// A stream client that has received the response head and the stream's first line, so
    /// its start position is fixed.
    static func connect(
        _ port: UInt16, query: String = "", token: String = adminToken, headers: [String: String] = [:],
        receiveBufferBytes: Int32? = nil
    ) throws -> EventStreamClient {
        let client = try EventStreamClient(
            port: port, path: "/v1/events" + query,
            headers: headers.merging(["Authorization": "Bearer \(token)"]) { $1 },
            receiveBufferBytes: receiveBufferBytes)
        if receiveBufferBytes == nil {
            try #require(client.read(untilContains: "retry: 2000\n\n", timeout: patience), "the stream did not start")
        }
        return client
    }

    /// Polls `condition` every 10 ms until it holds or `timeout` runs out.
    static func eventually(timeout: Duration = patience, _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            usleep(10_000)
        }
        return true
    }

    @Test("events published after connecting arrive, framed exactly, with the stream's headers")
    func framing() throws {
        let log = EventLog()
        log.publish(Self.events(1...3))
        try Self.withServer(log: log) { _, port in
            let client = try Self.connect(port)
            #expect(client.status == 200)
            #expect(client.header("Content-Type") == "text/event-stream")
            #expect(client.header("Cache-Control") == "no-store")
            #expect(client.header("X-Accel-Buffering") == "no")
            log.publish([Self.event(4), Self.event(5, holder: nil, type: .fileViolation)])
            #expect(client.read(untilContains: "id: 5\n", timeout: Self.patience))
            let four =
                #"{"seq":4,"type":"lease.granted","timestamp":"2026-12-01T08:00:00Z","#
                + #""data":{"lease_id":"l4","holder":"h1"}}"#
            let five = #"{"seq":5,"type":"file.violation","timestamp":"2026-12-01T08:00:00Z","data":{"lease_id":"l5"}}"#
            #expect(client.read(untilContains: "\(five)\n\n", timeout: Self.patience))
            #expect(
                client.text
                    == "retry: 2000\n\nid: 4\nevent: lease.granted\ndata: \(four)\n\n"
                    + "id: 5\nevent: file.violation\ndata: \(five)\n\n"
            )
        }
    }

    @Test("since=N resumes after N, also from events older than the log keeps in memory")
    func since() throws {
        let all = Self.events(1...30)
        let log = EventLog(capacity: 10) { after, limit in Array(all.filter { $0.sequence > after }.prefix(limit)) }
        log.publish(all)
        try Self.withServer(log: log) { _, port in
            for since: UInt64 in [0, 5, 25, 30] {
                let client = try Self.connect(port, query: "?since=\(since)")
                if since < 30 {
                    #expect(client.read(untilContains: "id: 30\n", timeout: Self.patience), "since=\(since)")
                }
                #expect(client.eventIDs == Array(since + 1..<31), "since=\(since)")
            }
            let newer = try Self.connect(port, query: "?since=30")
            log.publish([Self.event(31)])
            #expect(newer.read(untilContains: "id: 31\n", timeout: Self.patience))
            #expect(newer.eventIDs == [31])
        }
    }

    @Test("since older than every retained event is 410 events-expired, never a silent gap")
    func sinceBeforeRetained() throws {
        let log = EventLog(capacity: 10)
        log.publish(Self.events(1...30))
        try Self.withServer(log: log) { _, port in
            let expired = try EventStreamClient(
                port: port, path: "/v1/events?since=3", headers: ["Authorization": "Bearer \(Self.adminToken)"])
            #expect(expired.read(untilContains: #""oldest_sequence":21"#, timeout: Self.patience))
            #expect(expired.status == 410)
            #expect(expired.text.contains("https://pinlease.dev/problems/events-expired"))
            let future = try EventStreamClient(
                port: port, path: "/v1/events?since=31", headers: ["Authorization": "Bearer \(Self.adminToken)"])
            #expect(future.read(untilContains: #""last_sequence":30"#, timeout: Self.patience))
            #expect(future.status == 422)
            let edge = try Self.connect(port, query: "?since=20")
            #expect(edge.read(untilContains: "id: 30\n", timeout: Self.patience))
            #expect(edge.eventIDs == Array(21...30))
        }
    }

    @Test("a stream that falls behind retention ends after the last event it still had, without skipping")
    func fallingBehindRetentionEnds() throws {
        let log = EventLog(capacity: 100)
        // About 15 MB of frames: far more than the socket buffers of a client that does not read
        // hold, and the log keeps only the newest 100 events.
        let count: UInt64 = 50_000
        try Self.withServer(log: log) { server, port in
            let stalled = try Self.connect(port, receiveBufferBytes: 4096)
            #expect(Self.eventually { server.openEventStreams == 1 }, "the stalled client's stream did not open")
            log.publish(Self.events(1...50, padding: 200))
            #expect(stalled.read(untilContains: "id: 50\n", timeout: Self.patience), "the first events arrive")
            for sequence in 51...count { log.publish([Self.event(sequence, padding: 200)]) }
            #expect(stalled.readToEnd(timeout: .seconds(120)), "the stream went on past the forgotten events")
            let ids = stalled.eventIDs
            #expect(ids.count >= 50 && ids.count < Int(count))
            let skip = zip(ids, ids.dropFirst()).first { $1 != $0 + 1 }
            #expect(
                ids.first == 1 && skip == nil,
                "no event skipped before the end (skipped from \(String(describing: skip)))")
        }
    }

    @Test("Last-Event-ID resumes after that id and wins over since")
    func lastEventID() throws {
        let log = EventLog()
        log.publish(Self.events(1...10))
        try Self.withServer(log: log) { _, port in
            let client = try Self.connect(port, query: "?since=2", headers: ["Last-Event-ID": "7"])
            #expect(client.read(untilContains: "id: 10\n", timeout: Self.patience))
            #expect(client.eventIDs == [8, 9, 10])
        }
    }

    @Test("a holder token sees only its own leases' events; an admin token sees all")
    func holderFiltering() throws {
        let log = EventLog()
        let mixed = (1...30).map { sequence in
            Self.event(UInt64(sequence), holder: [Optional("h1"), "h2", nil][sequence % 3])
        }
        log.publish(mixed)
        try Self.withServer(log: log) { _, port in
            let holder = try Self.connect(port, query: "?since=0", token: Self.holderToken)
            let admin = try Self.connect(port, query: "?since=0")
            log.publish([Self.event(31, holder: "h2"), Self.event(32, holder: nil), Self.event(33, holder: "h1")])
            #expect(holder.read(untilContains: "id: 33\n", timeout: Self.patience))
            #expect(admin.read(untilContains: "id: 33\n", timeout: Self.patience))
            #expect(holder.eventIDs == mixed.filter { $0.holder == "h1" }.map(\.sequence) + [33])
            #expect(!holder.text.contains(#""holder":"h2""#))
            #expect(admin.eventIDs == Array(1...33))
        }
    }

    @Test("an idle stream gets heartbeats")
    func heartbeat() throws {
        try Self.withServer(log: EventLog(), heartbeat: 0.2) { _, port in
            let client = try Self.connect(port)
            #expect(client.read(untilContains: ": heartbeat\n\n", timeout: Self.patience))
            #expect(client.eventIDs.isEmpty)
        }
    }

    @Test("a client that never reads blocks neither the publisher nor another reader")
    func slowReader() throws {
        let log = EventLog(capacity: 100_000)
        let count: UInt64 = 50_000
        try Self.withServer(log: log) { server, port in
            let stalled = try Self.connect(port, receiveBufferBytes: 4096)
            #expect(Self.eventually { server.openEventStreams == 1 }, "the stalled client's stream did not open")
            let reader = try Self.connect(port)
            // About 15 MB of frames, far more than the stalled connection's socket buffers hold,
            // published on another thread while this one reads.
            let published = DispatchSemaphore(value: 0)
            let publishTime = Mutex<Duration?>(nil)
            Thread.detachNewThread {
                let started = ContinuousClock.now
                for sequence in 1...count { log.publish([Self.event(sequence, padding: 200)]) }
                publishTime.withLock { $0 = ContinuousClock.now - started }
                published.signal()
            }
            #expect(
                reader.read(untilContains: "id: \(count)\n", timeout: .seconds(180)),
                "the reader did not get every event")
            #expect(published.wait(timeout: .after(.seconds(60))) == .success, "publishing did not finish")
            let elapsed = try #require(publishTime.withLock { $0 })
            #expect(elapsed < .seconds(60), "publishing \(count) events took \(elapsed)")
            #expect(reader.eventIDs == Array(1...count))
            #expect(server.openEventStreams == 2, "the stalled stream should still be open, just behind")
            withExtendedLifetime(stalled) {}
        }
    }

    @Test("a client that disconnects has its stream and observation released")
    func disconnect() throws {
        try Self.withServer(log: EventLog(), heartbeat: 0.2) { server, port in
            do {
                let client = try Self.connect(port)
                #expect(server.openEventStreams == 1)
                withExtendedLifetime(client) {}
            }
            #expect(
                Self.eventually { server.openEventStreams == 0 }, "the stream of the closed connection is still open")
        }
    }

    @Test("stop() ends open streams, also one whose client does not read, and returns")
    func stopWithOpenStreams() throws {
        let log = EventLog(capacity: 20_000)
        let configuration = ServerConfiguration(
            listenHost: "127.0.0.1", listenPort: 0, threads: 2, shutdownGraceSeconds: 5,
            eventHeartbeatSeconds: 60)
        let server = PinHTTPServer(configuration: configuration, dispatcher: Self.dispatcher(log: log), logger: .test)
        try server.start()
        let port = try #require(server.listeningAddresses.first?.split(separator: ":").last.flatMap { UInt16($0) })
        let readers = try (0..<3).map { _ in try Self.connect(port) }
        let stalled = try Self.connect(port, receiveBufferBytes: 4096)
        #expect(Self.eventually { server.openEventStreams == 4 })
        log.publish(Self.events(1...20_000, padding: 200))
        for reader in readers { #expect(reader.read(untilContains: "id: 20000\n", timeout: Self.patience)) }
        let started = ContinuousClock.now
        server.stop()
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(15), "stop() took \(elapsed)")
        #expect(server.openEventStreams == 0)
        for reader in readers {
            #expect(reader.readToEnd(timeout: Self.patience), "a reader did not see the stream end")
        }
        withExtendedLifetime(stalled) {}
    }

    @Test("HEAD answers the stream's headers and opens no stream")
    func head() throws {
        try Self.withServer(log: EventLog()) { server, port in
            let reply = try RawHTTPClient.send(
                .tcp(port: port), "HEAD", "/v1/events", headers: ["Authorization": "Bearer \(Self.adminToken)"])
            #expect(reply.status == 200)
            #expect(reply.header("Content-Type") == "text/event-stream")
            #expect(reply.body.isEmpty)
            #expect(server.openEventStreams == 0)
        }
    }

    @Test("no token is 401; a since or Last-Event-ID that is not a sequence number is 422 invalid-query")
    func errors() throws {
        try Self.withServer(log: EventLog()) { _, port in
            let anonymous = try RawHTTPClient.send(.tcp(port: port), "GET", "/v1/events")
            #expect(anonymous.status == 401)
            #expect(anonymous.header("WWW-Authenticate") == #"Bearer realm="pinlease""#)
            let authorized = ["Authorization": "Bearer \(Self.adminToken)"]
            for query in ["since=abc", "since=-1", "since=", "since=1.5", "since=99999999999999999999999"] {
                let reply = try RawHTTPClient.send(.tcp(port: port), "GET", "/v1/events?\(query)", headers: authorized)
                #expect(reply.status == 422, "\(query)")
                #expect(reply.header("Content-Type") == "application/problem+json")
                let problem = try JSONCodec.parse(Array(reply.body.utf8)).objectValue
                #expect(problem?["type"] == "https://pinlease.dev/problems/invalid-query", "\(query)")
                #expect(problem?["parameter"] == "since")
            }
            let badHeader = try RawHTTPClient.send(
                .tcp(port: port), "GET", "/v1/events",
                headers: authorized.merging(["Last-Event-ID": "x"]) { $1 })
            #expect(badHeader.status == 422)
            #expect(badHeader.body.contains("Last-Event-ID"))
        }
    }
}
