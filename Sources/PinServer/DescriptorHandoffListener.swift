import Dispatch
import Foundation
import LinuxFS
import Logging
import PinCore
import ServiceLifecycle
import Synchronization

/// Hands lease holders an open descriptor of their leased file over a Unix socket, by
/// `SCM_RIGHTS`: once a file is immutable its holder cannot open it read-write itself.
///
/// The protocol, one exchange per connection:
/// 1. The client connects and, within 5 s, sends one line of at most 4096 bytes (newline
///    included): a JSON object `{"lease_id":"lease_…","token":"…"}` and `\n`.
/// 2. The daemon authenticates the token (a holder token stands for its holder name, an admin
///    token for none), reads the client's `SO_PEERCRED` and asks `authorize` for the lease's descriptor.
/// 3. It answers one line of JSON and `\n`, then closes the connection:
///    - success: `{"lease_id","pin_id","path","offset","length","access":"read"|"write"}` with
///      exactly one descriptor attached (`O_RDWR` for `write`, `O_RDONLY` for `read`); the
///      daemon keeps its own;
///    - failure: an RFC 9457 problem `{"type":"https://pinlease.dev/problems/<slug>","title",
///      "status","detail",…}` and no descriptor: 400 `invalid-request` for a line that is not
///      JSON, lacks `lease_id`, has unknown members, is too long, ends early or is late; 401
///      `unauthorized` for a missing or unknown token; otherwise the `CoreError` from
///      `authorize` with the status the HTTP API gives it (404 `lease-not-found`, 403
///      `peer-not-allowed`, 409 `lease-not-active`, …).
///
/// The socket file gets mode 0660: the daemon's group may connect, and must still present a
/// token. Each connection is served on its own thread, at most 64 at once (more are closed
/// unanswered), so a client that sends nothing holds up no one else. Tokens are never logged;
/// hand-offs are logged at info level, refusals at notice. A service: ``run()`` listens until
/// graceful shutdown or cancellation.
public final class DescriptorHandoffListener: Service {
    /// Decides whether `request` may have its lease's descriptor, and which.
    public typealias Authorize = @Sendable (DescriptorHandoffRequest) throws(CoreError) -> HandedOffDescriptor

    /// Connections served at once.
    static let maxConnections = 64

    /// The socket file.
    public let path: String
    private let exchange: DescriptorHandoffExchange
    private let logger: Logger
    private let running = Mutex<Running?>(nil)

    /// What ``stop()`` needs of a started listener.
    private struct Running: Sendable {
        let socket: UnixSocket
        let connections: ConnectionSet
        let acceptLoopEnded: DispatchSemaphore
    }

    /// A listener for `path` that checks tokens with `tokens` and descriptors with `authorize`.
    /// Nothing listens until ``start()``.
    public convenience init(path: String, tokens: TokenStore, logger: Logger, authorize: @escaping Authorize) {
        self.init(path: path, tokens: tokens, logger: logger, requestTimeout: .seconds(5), authorize: authorize)
    }

    /// Tests shorten `requestTimeout`.
    init(path: String, tokens: TokenStore, logger: Logger, requestTimeout: Duration, authorize: @escaping Authorize) {
        self.path = path
        self.logger = logger
        exchange = DescriptorHandoffExchange(
            tokens: tokens, authorize: authorize, requestTimeout: requestTimeout, logger: logger)
    }

    deinit {
        stop()
    }

    /// Creates the socket file (replacing a stale one, see `UnixSocket.listen(path:mode:backlog:)`)
    /// and starts accepting connections.
    /// - Throws: ``HTTPServerError`` with a one-line reason; nothing listens then.
    public func start() throws {
        try running.withLock { (running: inout Running?) throws(HTTPServerError) in
            guard running == nil else { throw HTTPServerError("the descriptor hand-off listener is already running") }
            let socket: UnixSocket
            do {
                socket = try UnixSocket.listen(path: path, mode: 0o660)
            } catch {
                throw HTTPServerError("cannot listen on unix:\(path): \(error)")
            }
            let connections = ConnectionSet(limit: Self.maxConnections)
            let acceptLoopEnded = DispatchSemaphore(value: 0)
            let thread = Thread { [exchange, logger] in
                Self.acceptConnections(on: socket, into: connections, exchange: exchange, logger: logger)
                acceptLoopEnded.signal()
            }
            thread.name = "fd-handoff-accept"
            thread.start()
            running = Running(socket: socket, connections: connections, acceptLoopEnded: acceptLoopEnded)
        }
        logger.info("descriptor hand-off listening on unix:\(path)")
    }

    /// Listens (``start()``) until graceful shutdown or cancellation, then stops (``stop()``);
    /// returns once the accepting thread and every connection's thread ended.
    /// - Throws: ``HTTPServerError`` when it cannot listen.
    public func run() async throws {
        try await run(whenServing: {})
    }

    /// ``run()``, calling `whenServing` once connections are accepted (for the service
    /// manager's readiness notice).
    public func run(whenServing: @Sendable () -> Void) async throws {
        try start()
        whenServing()
        await shutdownRequested()
        try await blocking("fd-handoff-stop") { [self] in stop() }
    }

    /// How many connections are being served right now (for tests).
    var connectionsBeingServed: Int {
        running.withLock { $0?.connections.count } ?? 0
    }

    /// Stops accepting, wakes the connections still waiting for their request line (they are
    /// answered `invalid-request` if they can still read), waits for those inside `authorize`,
    /// then closes the socket and removes its file. Idempotent; also run by `deinit`.
    public func stop() {
        guard let stopping = running.withLock({ $0.take() }) else { return }
        stopping.connections.close()
        stopping.socket.shutdown()
        stopping.acceptLoopEnded.wait()
        stopping.connections.waitUntilFinished()
        stopping.socket.removeSocketFile()
        logger.info("descriptor hand-off stopped")
    }

    private static func acceptConnections(
        on socket: UnixSocket, into connections: ConnectionSet, exchange: DescriptorHandoffExchange, logger: Logger
    ) {
        while true {
            let connection: UnixSocket
            do {
                connection = try socket.accept()
            } catch {
                if connections.isClosed { return }
                // EMFILE and the like: the condition may pass; do not spin meanwhile.
                logger.warning("descriptor hand-off: \(error); accepting again in 100 ms")
                SystemClock.sleep(for: .milliseconds(100))
                continue
            }
            guard connections.admit(connection) else {
                if connections.isClosed { return }
                logger.notice(
                    "descriptor hand-off: \(maxConnections) connections are being served; closed a new one unanswered")
                continue
            }
            let thread = Thread {
                exchange.serve(connection)
                connections.finish(connection)
            }
            thread.name = "fd-handoff"
            thread.start()
        }
    }
}

/// The connections being served, so that ``DescriptorHandoffListener/stop()`` can wake and await them.
private final class ConnectionSet: Sendable {
    private struct State {
        var open: [ObjectIdentifier: UnixSocket] = [:]
        var isClosed = false
    }

    private let limit: Int
    private let state = Mutex(State())
    private let served = DispatchGroup()

    init(limit: Int) {
        self.limit = limit
    }

    /// Registers `connection`; false when the set is closed or full.
    func admit(_ connection: UnixSocket) -> Bool {
        state.withLock { state in
            guard !state.isClosed, state.open.count < limit else { return false }
            state.open[ObjectIdentifier(connection)] = connection
            served.enter()
            return true
        }
    }

    /// `connection` was served; call once per admitted connection.
    func finish(_ connection: UnixSocket) {
        _ = state.withLock { $0.open.removeValue(forKey: ObjectIdentifier(connection)) }
        served.leave()
    }

    var isClosed: Bool {
        state.withLock { $0.isClosed }
    }

    var count: Int {
        state.withLock { $0.open.count }
    }

    /// Admits no more connections and shuts down the open ones, waking reads in progress.
    func close() {
        let open = state.withLock { state in
            state.isClosed = true
            return Array(state.open.values)
        }
        for connection in open { connection.shutdown() }
    }

    /// Returns once every admitted connection was finished.
    func waitUntilFinished() {
        served.wait()
    }
}
