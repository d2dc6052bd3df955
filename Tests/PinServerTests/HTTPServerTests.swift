import Foundation
import LinuxFS
import Logging
import PinCore
import PinJSON
import Synchronization
import Testing

@testable import PinServer

/// libmicrohttpd end to end with a test route table: body limits, suspension while handlers
/// block, the Unix socket, and shutdown with handlers still running.
@Suite("HTTP server", .serialized)
struct HTTPServerTests {
    static let token = "server-test-token"

    /// How long a handler waits at a ``Barrier`` or ``Gate`` before giving up with 500. Only a
    /// broken server ever reaches it; it keeps such a server from hanging the test run.
    static let failureGuard: Duration = .seconds(60)

    /// `barrier` backs `GET /barrier` and `gate` backs `GET /gate`: both answer 200 when let
    /// through and 500 when the failure guard ran out.
    static func dispatcher(barrier: Barrier = Barrier(parties: 1), gate: Gate = Gate()) -> RequestDispatcher {
        let tokens = TokenStore(
            entries: [.init(token: Array(token.utf8), principal: Principal(role: .admin, holder: nil))],
            tokensFile: nil, adminTokenPath: nil, logger: .test)
        return RequestDispatcher(
            router: Router([
                Route("GET", "/healthz", access: .anonymous) { _ in .json(["status": "ok"]) },
                Route("GET", "/sleep/{ms}", access: .anonymous) { request in
                    usleep(UInt32(request.parameters["ms"].flatMap { Int($0) } ?? 0) * 1000)
                    return .json(["slept": .string(request.parameters["ms"] ?? "")])
                },
                Route("GET", "/barrier", access: .anonymous) { _ in
                    barrier.arriveAndWait(timeout: failureGuard)
                        ? .json(["together": .int(Int64(barrier.parties))])
                        : .json(["error": "the barrier did not fill"], status: 500)
                },
                Route("GET", "/gate", access: .anonymous) { _ in
                    gate.pass(timeout: failureGuard)
                        ? .json(["gate": "opened"]) : .json(["error": "the gate stayed closed"], status: 500)
                },
                Route("POST", "/v1/echo", access: .admin) { request in
                    .json([
                        "path": .string(try PathRequestBody.decode(request).path),
                        "bytes": .int(Int64(request.body.count)),
                    ])
                },
                Route("POST", "/v1/things", access: .admin) { _ in
                    .json(["id": "t1"], status: 201, headers: [HTTPHeader("Location", "/v1/things/t1")])
                },
                Route("DELETE", "/v1/things/{id}", access: .admin) { _ in HTTPResponse(status: 204) },
            ]),
            tokens: tokens, logger: .test)
    }

    /// Runs `body` against a started server on an ephemeral port, then stops it.
    static func withServer(
        maxBodyBytes: Int = 1024, threads: UInt32 = 2, unixSocket: String? = nil, grace: UInt32 = 5,
        barrier: Barrier = Barrier(parties: 1), gate: Gate = Gate(),
        _ body: (PinHTTPServer, UInt16) throws -> Void
    ) throws {
        let configuration = ServerConfiguration(
            listenHost: "127.0.0.1", listenPort: 0, unixSocketPath: unixSocket, maxBodyBytes: maxBodyBytes,
            threads: threads, shutdownGraceSeconds: grace)
        let server = PinHTTPServer(
            configuration: configuration, dispatcher: dispatcher(barrier: barrier, gate: gate), logger: .test)
        try server.start()
        defer { server.stop() }
        let address = try #require(server.listeningAddresses.first)
        let port = try #require(address.split(separator: ":").last.flatMap { UInt16($0) })
        try body(server, port)
    }

    /// Runs `work` on `count` dedicated threads at once and returns the results in order.
    static func concurrently<T: Sendable>(_ count: Int, _ work: @escaping @Sendable (Int) throws -> T) -> [Result<
        T, any Error
    >] {
        let results = Mutex<[Int: Result<T, any Error>]>([:])
        let done = DispatchGroup()
        for index in 0..<count {
            done.enter()
            Thread.detachNewThread {
                let result = Result { try work(index) }
                results.withLock { $0[index] = result }
                done.leave()
            }
        }
        done.wait()
        return results.withLock { all in (0..<count).map { all[$0]! } }
    }

    @Test("a request is answered with JSON and no-store")
    func basic() throws {
        try Self.withServer { _, port in
            let reply = try RawHTTPClient.send(.tcp(port: port), "GET", "/healthz")
            #expect(reply.status == 200)
            #expect(reply.header("Content-Type") == "application/json")
            #expect(reply.header("Cache-Control") == "no-store")
            #expect(try JSONCodec.parse(Array(reply.body.utf8)) == ["status": "ok"])
        }
    }

    @Test("a POST body reaches the handler")
    func postBody() throws {
        try Self.withServer { _, port in
            let body = Array(#"{"path":"data:a.bin"}"#.utf8)
            let headers = ["Authorization": "Bearer \(Self.token)", "Content-Type": "application/json"]
            for chunked in [false, true] {
                let reply = try RawHTTPClient.send(
                    .tcp(port: port), "POST", "/v1/echo", headers: headers, body: body, chunked: chunked)
                #expect(reply.status == 200)
                #expect(
                    try JSONCodec.parse(Array(reply.body.utf8)) == [
                        "path": "data:a.bin", "bytes": .int(Int64(body.count)),
                    ])
            }
        }
    }

    @Test("201 carries its Location header; 204 has no body")
    func createdAndNoContent() throws {
        try Self.withServer { _, port in
            let headers = ["Authorization": "Bearer \(Self.token)", "Content-Type": "application/json"]
            let created = try RawHTTPClient.send(
                .tcp(port: port), "POST", "/v1/things", headers: headers, body: Array("{}".utf8))
            #expect(created.status == 201)
            #expect(created.header("Location") == "/v1/things/t1")
            #expect(try JSONCodec.parse(Array(created.body.utf8)) == ["id": "t1"])
            let deleted = try RawHTTPClient.send(
                .tcp(port: port), "DELETE", "/v1/things/t1", headers: ["Authorization": "Bearer \(Self.token)"])
            #expect(deleted.status == 204)
            #expect(deleted.body.isEmpty)
            #expect(deleted.header("Content-Type") == nil)
        }
    }

    @Test("bodies over the limit are 413, by declared length and by chunked stream")
    func bodyTooLarge() throws {
        try Self.withServer(maxBodyBytes: 1024) { _, port in
            let headers = ["Authorization": "Bearer \(Self.token)", "Content-Type": "application/json"]
            let large =
                Array(#"{"path":""#.utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 200_000) + Array(#""}"#.utf8)
            for chunked in [false, true] {
                let reply = try RawHTTPClient.send(
                    .tcp(port: port), "POST", "/v1/echo", headers: headers, body: large, chunked: chunked)
                #expect(reply.status == 413, "chunked: \(chunked)")
                #expect(reply.header("Content-Type") == "application/problem+json")
                #expect(reply.body.contains("https://pinlease.dev/problems/body-too-large"))
            }
            let exact =
                Array(#"{"path":""#.utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 1024 - 11) + Array(#""}"#.utf8)
            #expect(exact.count == 1024)
            #expect(
                try RawHTTPClient.send(.tcp(port: port), "POST", "/v1/echo", headers: headers, body: exact).status
                    == 200)
        }
    }

    @Test("blocking handlers run on workers, not on MHD's threads")
    func handlersDoNotBlockEventLoop() throws {
        // Every handler waits until all 12 are inside at once. With one MHD thread that only
        // happens when handlers run concurrently on workers; a server that ran them one after
        // another would never fill the barrier, and the failure guard would answer 500.
        let barrier = Barrier(parties: 12)
        try Self.withServer(threads: 1, barrier: barrier) { _, port in
            let results = Self.concurrently(12) { _ in
                try RawHTTPClient.send(.tcp(port: port), "GET", "/barrier").status
            }
            #expect(results.allSatisfy { (try? $0.get()) == 200 }, "\(results)")
        }
    }

    @Test("health answers while slow handlers run")
    func healthDuringSlowWork() throws {
        // The slow handlers wait at a gate that opens only after /healthz answered. If /healthz
        // were stuck behind them it would answer only once they gave up (failure guard, 500),
        // with none of them left at the gate.
        let gate = Gate()
        try Self.withServer(threads: 1, gate: gate) { _, port in
            defer { gate.open() }
            let slowStatuses = Mutex<[Int]>([])
            let slowDone = DispatchGroup()
            for _ in 0..<8 {
                slowDone.enter()
                Thread.detachNewThread {
                    let status = (try? RawHTTPClient.send(.tcp(port: port), "GET", "/gate").status) ?? -1
                    slowStatuses.withLock { $0.append(status) }
                    slowDone.leave()
                }
            }
            try #require(gate.waitForArrivals(8, timeout: Self.failureGuard), "the slow handlers did not all start")
            let reply = try RawHTTPClient.send(.tcp(port: port), "GET", "/healthz")
            let heldWhenHealthAnswered = gate.inside
            let openedBeforeHealthAnswered = gate.isOpen
            gate.open()
            slowDone.wait()
            #expect(reply.status == 200)
            #expect(!openedBeforeHealthAnswered)
            #expect(
                heldWhenHealthAnswered == 8,
                "/healthz answered with \(heldWhenHealthAnswered) of 8 slow handlers still running")
            #expect(
                slowStatuses.withLock { $0 } == Array(repeating: 200, count: 8),
                "the slow handlers gave up before the gate opened")
        }
    }

    @Test("the Unix socket serves the same API with mode 0660 and is removed on stop")
    func unixSocket() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("api.sock")
        directory.write("api.sock", "")
        unlink(path)
        try Self.withServer(unixSocket: path) { server, _ in
            #expect(server.listeningAddresses.contains("unix:\(path)"))
            var info = stat()
            #expect(lstat(path, &info) == 0 && info.st_mode & 0o777 == 0o660)
            let reply = try RawHTTPClient.send(.unix(path: path), "GET", "/healthz")
            #expect(reply.status == 200)
        }
        var info = stat()
        #expect(lstat(path, &info) != 0)
    }

    @Test("a stale socket file is replaced; a regular file in the way is an error")
    func staleSocket() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("api.sock")
        let stale = try ListeningSocket.unix(path: path)
        _ = close(stale.fd)
        try Self.withServer(unixSocket: path) { _, _ in
            let reply = try RawHTTPClient.send(.unix(path: path), "GET", "/healthz")
            #expect(reply.status == 200)
        }
        directory.write("plain", "x")
        #expect(throws: HTTPServerError.self) { try ListeningSocket.unix(path: directory.file("plain")) }
    }

    @Test("binding a port in use fails with a one-line error")
    func portInUse() throws {
        try Self.withServer { _, port in
            let second = PinHTTPServer(
                configuration: ServerConfiguration(listenHost: "127.0.0.1", listenPort: port),
                dispatcher: Self.dispatcher(), logger: .test)
            do {
                try second.start()
                Issue.record("second server started on port \(port)")
            } catch let error as HTTPServerError {
                #expect(error.description.contains("127.0.0.1:\(port)"))
            }
        }
    }

    @Test("IPv6 loopback is served")
    func ipv6() throws {
        let server = PinHTTPServer(
            configuration: ServerConfiguration(listenHost: "[::1]", listenPort: 0), dispatcher: Self.dispatcher(),
            logger: .test)
        try server.start()
        defer { server.stop() }
        #expect(server.listeningAddresses.first?.hasPrefix("[::1]:") == true)
    }

    @Test("stop waits for running handlers within the grace period")
    func stopWaitsForHandlers() throws {
        // The handler is known to be running (it arrived at the gate) before stop() is called,
        // and the gate opens only a moment later: stop() must have waited for it. A grace far
        // longer than that moment keeps a loaded machine from turning the wait into a 503.
        let gate = Gate()
        defer { gate.open() }
        let configuration = ServerConfiguration(
            listenHost: "127.0.0.1", listenPort: 0, threads: 2, shutdownGraceSeconds: 60)
        let server = PinHTTPServer(configuration: configuration, dispatcher: Self.dispatcher(gate: gate), logger: .test)
        try server.start()
        defer { server.stop() }  // idempotent: only for an early exit
        let port = try #require(server.listeningAddresses.first?.split(separator: ":").last.flatMap { UInt16($0) })
        let gateOpenWhenStopReturned = Mutex<Bool?>(nil)
        let replies = Self.concurrently(2) { index in
            if index == 0 { return try RawHTTPClient.send(.tcp(port: port), "GET", "/gate").status }
            guard gate.waitForArrivals(1, timeout: Self.failureGuard) else { return 0 }
            Thread.detachNewThread {
                usleep(300_000)  // not a condition: stop() must wait however long this takes
                gate.open()
            }
            server.stop()
            gateOpenWhenStopReturned.withLock { $0 = gate.isOpen }
            return 0
        }
        #expect((try? replies[0].get()) == 200)
        #expect(gateOpenWhenStopReturned.withLock { $0 } == true, "stop() returned while the handler was still running")
    }

    @Test("handlers still running after the grace period are answered 503 and stop returns")
    func stopAbandonsSlowHandlers() throws {
        // The handler waits at a gate that stays closed until the test is over, so it is still
        // running when the grace period ends; stop() must give up on it rather than wait.
        let gate = Gate()
        defer { gate.open() }
        let configuration = ServerConfiguration(
            listenHost: "127.0.0.1", listenPort: 0, threads: 2, shutdownGraceSeconds: 1)
        let server = PinHTTPServer(configuration: configuration, dispatcher: Self.dispatcher(gate: gate), logger: .test)
        try server.start()
        let port = try #require(server.listeningAddresses.first?.split(separator: ":").last.flatMap { UInt16($0) })
        let handlerStarted = Mutex(false)
        let heldAfterStop = Mutex<Int?>(nil)
        let replies = Self.concurrently(2) { index -> RawHTTPClient.Reply? in
            if index == 0 { return try RawHTTPClient.send(.tcp(port: port), "GET", "/gate") }
            let started = gate.waitForArrivals(1, timeout: Self.failureGuard)
            handlerStarted.withLock { $0 = started }
            server.stop()
            heldAfterStop.withLock { $0 = gate.inside }
            return nil
        }
        #expect(handlerStarted.withLock { $0 }, "the handler never started")
        #expect(heldAfterStop.withLock { $0 } == 1, "stop() did not return while the handler was still running")
        switch replies[0] {
        case .success(let reply?):
            #expect(reply.status == 503)
            #expect(reply.body.contains("shutting-down"))
        case .success(nil), .failure:
            Issue.record("no 503: \(replies[0])")
        }
        #expect(throws: (any Error).self) { try RawHTTPClient.send(.tcp(port: port), "GET", "/healthz") }
    }
}
