import Foundation
import PinCore
import PinJSON
import Synchronization
import Testing

@testable import PinServer

/// Quick routes (``Route/quick``): the handler runs on the libmicrohttpd thread, its commit is
/// waited for off that thread (``CommitDeferral``), and the answer goes out only once the
/// commit is done: the handler's response, the problem of a failed commit, or 503 at shutdown.
/// The server runs one libmicrohttpd thread, so a handler or commit blocking it would also
/// block `/healthz`.
@Suite("Quick routes", .serialized)
struct QuickRouteTests {
    static let failureGuard = HTTPServerTests.failureGuard

    /// A commit that is done once `gate` opens, then fails with `error` if one is given.
    struct GatedTicket: CommitTicket {
        let gate: Gate
        let error: CoreError?

        func wait() throws(CoreError) {
            guard gate.pass(timeout: QuickRouteTests.failureGuard) else {
                throw CoreError(.systemError, "the test's gate stayed closed")
            }
            if let error { throw error }
        }
    }

    /// What the routes saw: whether a commit was undone, and on which threads handlers ran.
    final class Record: Sendable {
        let undone = Mutex<CoreError?>(nil)
        let handOffRanQuick = Mutex<[Bool]>([])
    }

    static func dispatcher(gate: Gate, commitError: CoreError?, record: Record) -> RequestDispatcher {
        RequestDispatcher(
            router: Router([
                Route("GET", "/healthz", access: .anonymous) { _ in .json(["status": "ok"]) },
                // Stands for a lease transition: hands its commit to the request's deferral.
                Route("POST", "/commit", access: .anonymous, quick: true) { _ in
                    let held = CommitDeferral.current?.hold(GatedTicket(gate: gate, error: commitError)) { error in
                        record.undone.withLock { $0 = error }
                    }
                    return .json(["held": .bool(held == true)], status: 201)
                },
                // Blocks: must leave the libmicrohttpd thread first.
                Route("POST", "/hand-off", access: .anonymous, quick: true) { _ in
                    record.handOffRanQuick.withLock { $0.append(QuickRun.active) }
                    try QuickRun.handOff()
                    return gate.pass(timeout: failureGuard)
                        ? .json(["gate": "opened"]) : .json(["error": "the gate stayed closed"], status: 500)
                },
            ]),
            tokens: TokenStore(entries: [], tokensFile: nil, adminTokenPath: nil, logger: .test), logger: .test)
    }

    static func withServer(
        gate: Gate, commitError: CoreError? = nil, record: Record = Record(), grace: UInt32 = 60,
        _ body: (PinHTTPServer, UInt16) throws -> Void
    ) throws {
        let configuration = ServerConfiguration(
            listenHost: "127.0.0.1", listenPort: 0, threads: 1, shutdownGraceSeconds: grace)
        let server = PinHTTPServer(
            configuration: configuration, dispatcher: dispatcher(gate: gate, commitError: commitError, record: record),
            logger: .test)
        try server.start()
        defer { server.stop() }
        let port = try #require(server.listeningAddresses.first?.split(separator: ":").last.flatMap { UInt16($0) })
        try body(server, port)
    }

    @Test("the answer waits for the commit, and the libmicrohttpd thread serves others meanwhile")
    func answerAfterCommit() throws {
        let gate = Gate()
        defer { gate.open() }
        try Self.withServer(gate: gate) { _, port in
            let answered = Mutex(false)
            // Index 1: the status of /healthz and whether the request was answered, both while
            // its commit is being waited for.
            let replies = HTTPServerTests.concurrently(2) { index -> (status: Int, answered: Bool)? in
                if index == 0 {
                    let reply = try RawHTTPClient.send(.tcp(port: port), "POST", "/commit")
                    answered.withLock { $0 = true }
                    return reply.body.contains(#""held":true"#) ? (reply.status, true) : (0, true)
                }
                guard gate.waitForArrivals(1, timeout: Self.failureGuard) else { return nil }
                let health = try RawHTTPClient.send(.tcp(port: port), "GET", "/healthz")
                let answeredEarly = answered.withLock { $0 }
                gate.open()
                return (health.status, answeredEarly)
            }
            #expect((try? replies[0].get())??.status == 201, "not the handler's answer: \(replies[0])")
            let during = try #require(try? replies[1].get(), "the commit was never waited for")
            #expect(during.status == 200, "the libmicrohttpd thread was held while the commit was waited for")
            #expect(!during.answered, "answered before its commit was done")
        }
    }

    @Test("a failed commit is answered with its problem, after it was undone")
    func failedCommit() throws {
        let gate = Gate()
        gate.open()
        let record = Record()
        let full = CoreError(.stateFull, "the state directory is full")
        try Self.withServer(gate: gate, commitError: full, record: record) { _, port in
            let reply = try RawHTTPClient.send(.tcp(port: port), "POST", "/commit")
            #expect(reply.status == 507)
            #expect(reply.body.contains("/state-full"))
            #expect(record.undone.withLock { $0?.code } == .stateFull, "the failed commit was not undone")
        }
    }

    @Test("a request whose commit is pending at shutdown gets an answer")
    func pendingAtShutdown() throws {
        let gate = Gate()
        defer { gate.open() }
        try Self.withServer(gate: gate, grace: 1) { server, port in
            let replies = HTTPServerTests.concurrently(2) { index -> RawHTTPClient.Reply? in
                if index == 0 { return try RawHTTPClient.send(.tcp(port: port), "POST", "/commit") }
                guard gate.waitForArrivals(1, timeout: Self.failureGuard) else { return nil }
                server.stop()
                return nil
            }
            let reply = try #require(try replies[0].get())
            #expect(reply.status == 503)
            #expect(reply.body.contains("shutting-down"))
        }
    }

    @Test("a quick handler that hands off runs again on a worker")
    func handOff() throws {
        let gate = Gate()
        defer { gate.open() }
        let record = Record()
        try Self.withServer(gate: gate, record: record) { _, port in
            let replies = HTTPServerTests.concurrently(2) { index -> Int in
                if index == 0 { return try RawHTTPClient.send(.tcp(port: port), "POST", "/hand-off").status }
                guard gate.waitForArrivals(1, timeout: Self.failureGuard) else { return 0 }
                let health = try RawHTTPClient.send(.tcp(port: port), "GET", "/healthz").status
                gate.open()
                return health
            }
            #expect((try? replies[0].get()) == 200)
            #expect((try? replies[1].get()) == 200, "the blocking handler held the libmicrohttpd thread")
            #expect(record.handOffRanQuick.withLock { $0 } == [true, false])
        }
    }
}
