import CMicroHTTPD
import Synchronization

/// The state of one request on one connection, from its headers until libmicrohttpd reports
/// it completed. Owned by MHD through the request's `con_cls` pointer (retained there and
/// released by the completion callback); a worker running the handler holds its own reference.
final class RequestContext: Sendable {
    let method: String
    let path: String
    let contentType: String?
    let authorization: String?
    let lastEventID: String?
    let query: [String: String]
    let started: ContinuousClock.Instant
    let connection: ConnectionHandle
    /// The connection's receive-time tracking (nil only in tests that build contexts by hand).
    let watch: ConnectionWatch?
    /// The request's id (answered in `X-Request-Id`) and the fields of its access log line.
    let log: RequestLog
    private let state = Mutex(State())

    private struct State: ~Copyable {
        var body: [UInt8] = []
        var bodyTooLarge = false
        var phase = Phase.receiving
        var status: Int?
        var isEventStream = false
        var responseBytes = 0
        var completed = false
    }

    private enum Phase {
        /// Headers and body are arriving.
        case receiving
        /// The connection is suspended while a worker runs the handler.
        case running
        /// The handler's response waits for MHD to call the access handler again.
        case ready(HTTPResponse)
        /// A response was handed to MHD.
        case queued
    }

    /// What the access handler must do when the body is complete.
    enum Step {
        case run(HTTPRequest)
        case respond(HTTPResponse)
        case nothing
    }

    init(
        method: String, path: String, contentType: String?, authorization: String?, lastEventID: String?,
        query: [String: String] = [:], connection: ConnectionHandle, watch: ConnectionWatch? = nil,
        requestID: String? = nil
    ) {
        log = RequestLog(clientID: requestID)
        self.method = method
        self.path = path
        self.contentType = contentType
        self.authorization = authorization
        self.lastEventID = lastEventID
        self.query = query
        self.connection = connection
        self.watch = watch
        started = .now
    }

    /// What became of a chunk of body.
    enum BodyChunk {
        case stored
        /// The total passed the limit (now or earlier); the body was dropped.
        case exceededLimit
    }

    /// Appends body bytes until the total would exceed `limit`; from then on nothing is stored.
    func appendBody(_ chunk: UnsafeRawBufferPointer, limit: Int) -> BodyChunk {
        state.withLock { state in
            guard !state.bodyTooLarge else { return .exceededLimit }
            guard state.body.count + chunk.count <= limit else {
                state.bodyTooLarge = true
                state.body = []
                return .exceededLimit
            }
            state.body.append(contentsOf: chunk)
            return .stored
        }
    }

    /// Decides what happens after the last body byte (or after a resume).
    func nextStep(bodyTooLarge: () -> HTTPResponse) -> Step {
        state.withLock { state in
            switch state.phase {
            case .receiving where state.bodyTooLarge:
                return .respond(bodyTooLarge())
            case .receiving:
                let body = state.body
                state.body = []
                return .run(
                    HTTPRequest(
                        method: method, path: path, contentType: contentType, authorization: authorization,
                        lastEventID: lastEventID,
                        query: query, body: body, log: log))
            case .ready(let response):
                return .respond(response)
            case .running, .queued:
                return .nothing
            }
        }
    }

    /// Suspends the connection while a handler runs. Called on MHD's thread from the access handler.
    func suspend() {
        state.withLock { state in
            state.phase = .running
            MHD_suspend_connection(connection.raw)
        }
    }

    /// Stores the handler's response and resumes the connection, unless a response was
    /// already given (by ``PinHTTPServer/stop()``). The resume happens under the lock so
    /// that a concurrent stop sees either a suspended or an already resumed connection.
    @discardableResult
    func finish(with response: HTTPResponse) -> Bool {
        state.withLock { state in
            guard case .running = state.phase else { return false }
            state.phase = .ready(response)
            MHD_resume_connection(connection.raw)
            return true
        }
    }

    /// Records that `response` was queued, for the access log.
    func markQueued(_ response: HTTPResponse) {
        state.withLock { state in
            state.phase = .queued
            state.status = response.status
            state.isEventStream = response.stream != nil
            state.responseBytes = response.body.count
        }
    }

    /// Records that MHD reported the request complete (its response sent or the connection gone).
    func markCompleted() {
        state.withLock { $0.completed = true }
    }

    /// Whether MHD reported the request complete.
    var isCompleted: Bool {
        state.withLock { $0.completed }
    }

    /// Status, body size and whether it is an event stream, of the queued response, if one was queued.
    var outcome: (status: Int, bytes: Int, isEventStream: Bool)? {
        state.withLock { state in state.status.map { ($0, state.responseBytes, state.isEventStream) } }
    }
}
