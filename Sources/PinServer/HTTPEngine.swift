import CMicroHTTPD
import CoreMetrics
import Dispatch
import Foundation
import LinuxFS
import Logging
import PinCore
import PinJSON
import Synchronization

/// What the libmicrohttpd callbacks work with: it receives bodies, suspends connections while
/// a worker runs the handler, queues responses (event streams among them), keeps track of
/// suspended connections and open event streams for shutdown, and writes the access log. One
/// engine serves every listener of a server.
final class HTTPEngine: Sendable {
    let dispatcher: RequestDispatcher
    let maxBodyBytes: Int
    let heartbeatInterval: Duration
    let logger: Logger
    let metrics: HTTPMetrics
    /// Bounds the time each connection takes to deliver a request.
    let watchdog: ReceiveWatchdog
    private let inFlight = DispatchGroup()
    /// Waits for the commits of quick routes' transitions, in order, and answers them.
    private let durableAnswers = DispatchQueue(label: "pinlease.http.durable-answers")
    private let registry = Mutex(Registry())
    /// Told when a request completed or an event stream closed, for ``drain(grace:)``.
    private let settled = ChangeSignal()

    private struct Registry: ~Copyable {
        var stopping = false
        var suspended: [ObjectIdentifier: RequestContext] = [:]
        var streams: [ObjectIdentifier: EventStream] = [:]
    }

    init(
        dispatcher: RequestDispatcher, maxBodyBytes: Int, heartbeatInterval: Duration, receiveLimitSeconds: Double = 10,
        idleLimitSeconds: Double = 30, logger: Logger,
        metrics: HTTPMetrics = HTTPMetrics(factory: NOOPMetricsHandler.instance)
    ) {
        self.metrics = metrics
        self.dispatcher = dispatcher
        self.maxBodyBytes = maxBodyBytes
        self.heartbeatInterval = heartbeatInterval
        self.logger = logger
        watchdog = ReceiveWatchdog(
            receiveLimitSeconds: receiveLimitSeconds, idleLimitSeconds: idleLimitSeconds, logger: logger)
    }

    /// First call for a request (headers only), before any body byte is read. A control character
    /// in the path is 404 `not-found-route` (no path or id holds one), in the query 422
    /// `invalid-query`; a declared `Content-Length` over the limit is 413.
    func begin(_ context: RequestContext, declaredLength: Int?, refusedTarget: RequestTarget.Part?) -> MHD_Result {
        switch refusedTarget {
        case .path:
            let detail = "No path of the API holds a control character (raw or percent-encoded, such as %00 or %0A)."
            return queue(.problem(Problem(.notFoundRoute, detail)), for: context)
        case .query:
            let detail = "A query argument holds a control character (raw or percent-encoded, such as %00 or %0A)."
            return queue(.problem(Problem(.invalidQuery, detail)), for: context)
        case nil:
            break
        }
        guard let declaredLength, declaredLength > maxBodyBytes else { return .YES }
        return queue(bodyTooLargeResponse(), for: context)
    }

    /// A chunk of body. A declared length over the limit was refused in ``begin(_:declaredLength:refusedTarget:)``
    /// already. A chunked body that passes the limit is answered 413 at once and the connection
    /// closed, without reading the rest: libmicrohttpd accepts a response only before or after the
    /// body, so the 413 is written to the socket here (nothing else is being sent on it while the
    /// body arrives) and MHD is told to close the connection.
    func receive(_ chunk: UnsafeRawBufferPointer, for context: RequestContext) -> MHD_Result {
        switch context.appendBody(chunk, limit: maxBodyBytes) {
        case .stored:
            return .YES
        case .exceededLimit:
            let response = bodyTooLargeResponse()
            let fd = cmhd_connection_fd(context.connection.raw)
            if Self.writeDirectly(response, requestID: context.log.requestID, to: fd) {
                context.markQueued(response)
            }
            return .NO
        }
    }

    /// Writes `response` (a small, complete one) with `Connection: close` to the socket without
    /// waiting; false when the socket did not take all of it.
    private static func writeDirectly(_ response: HTTPResponse, requestID: String, to fd: Int32) -> Bool {
        guard fd >= 0 else { return false }
        var head = "HTTP/1.1 \(response.status) \(response.status == 413 ? "Content Too Large" : "Error")\r\n"
        let common = [
            HTTPHeader("Cache-Control", "no-store"), HTTPHeader("X-Request-Id", requestID),
            HTTPHeader("Connection", "close"),
        ]
        for header in response.headers + common {
            head += "\(header.name): \(header.value)\r\n"
        }
        head += "Content-Length: \(response.body.count)\r\n\r\n"
        let bytes = Array(head.utf8) + response.body
        let written = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        return written == bytes.count
    }

    /// The body is complete (or the connection was resumed): run the handler or send its response.
    func complete(_ context: RequestContext) -> MHD_Result {
        if let watch = context.watch { watchdog.requestReceived(watch) }
        switch context.nextStep(bodyTooLarge: bodyTooLargeResponse) {
        case .respond(let response):
            return queue(response, for: context)
        case .nothing:
            return .YES
        case .run(let request):
            guard register(context) else {
                return queue(
                    .problem(Problem(.shuttingDown, "The daemon is shutting down; retry once it is back.")),
                    for: context)
            }
            inFlight.enter()
            guard let match = runQuickly(request, context) else { return .YES }
            // A serial queue per request targets Dispatch's overcommit pool, which starts a thread
            // whenever none is idle; a shared concurrent queue is capped at one thread per core,
            // so a few long prepares would hold up every other request.
            DispatchQueue(label: "pinlease.http.request").async { [self] in
                let response = RequestLog.$current.withValue(context.log) {
                    dispatcher.respond(to: request, match: match)
                }
                answer(context, with: response)
            }
            return .YES
        }
    }

    /// Runs a quick route's handler here, on the libmicrohttpd thread (the connection is
    /// suspended already); returns the match to run on a worker for any other route, `nil` once
    /// answered here. A lease transition it made is answered once durable: ``durableAnswers``
    /// waits for the commit (one thread for every request, which leads the group commits of
    /// their writes), then sends the response, or the problem of the failed write (after its
    /// leases were put back). No thread waits per request.
    private func runQuickly(_ request: HTTPRequest, _ context: RequestContext) -> RouteMatch? {
        let (outcome, deferral) = CommitDeferral.collecting {
            RequestLog.$current.withValue(context.log) { dispatcher.respondQuickly(to: request) }
        }
        let response: HTTPResponse
        switch outcome {
        case .onWorker(let match):
            // Handed off before any transition; settles nothing unless a handler broke that rule.
            if deferral.isHolding { durableAnswers.async { _ = deferral.settle() } }
            return match
        case .answered(let answered):
            response = answered
        }
        guard deferral.isHolding else {
            answer(context, with: response)
            return nil
        }
        durableAnswers.async { [self] in
            // Under the request's log, as the handler's own wait was: an undo logs for it.
            guard let error = RequestLog.$current.withValue(context.log, operation: { deferral.settle() }) else {
                answer(context, with: response)
                return
            }
            let problem = ProblemMapping.problem(for: error, logger: logger)
            context.log.set("problem", .string(problem.code))
            answer(context, with: .problem(problem))
        }
        return nil
    }

    /// Hands a handler's response to the suspended connection and marks the request settled.
    private func answer(_ context: RequestContext, with response: HTTPResponse) {
        context.finish(with: response)
        unregister(context)
        inFlight.leave()
    }

    /// The access log line once MHD is done with the request (``AccessLog``).
    func completed(_ context: RequestContext, termination: MHD_RequestTerminationCode) {
        context.markCompleted()
        settled.changed()
        if let watch = context.watch { watchdog.requestCompleted(watch) }
        if let outcome = context.outcome {
            metrics.record(
                route: context.log.route, method: context.method, status: outcome.status,
                elapsed: outcome.isEventStream ? nil : ContinuousClock.now - context.started)
        }
        AccessLog.record(context, termination: termination, to: logger)
    }

    /// Event streams whose response MHD has not released yet.
    var openEventStreams: Int {
        registry.withLock { $0.streams.count }
    }

    /// Stops taking new handler work and opening event streams, ends every open event stream,
    /// and waits up to `grace` for running handlers; those still running are answered 503.
    /// Every connection that had a handler running is resumed, and MHD gets up to a second to
    /// send those responses and the ends of the streams, so MHD can then be stopped (no
    /// connection stays suspended; a stream whose client does not read is closed by MHD then).
    func drain(grace: Duration) {
        let (running, streams) = registry.withLock { registry in
            registry.stopping = true
            return (Array(registry.suspended.values), Array(registry.streams.values))
        }
        for stream in streams { stream.finish() }
        let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        if inFlight.wait(timeout: .now() + seconds) == .timedOut {
            logger.warning("request handlers still running after \(grace); answering them with 503")
        }
        for context in running {
            context.finish(with: .problem(Problem(.shuttingDown, "The daemon stopped before the request finished.")))
        }
        settled.wait(until: Date(timeIntervalSinceNow: 1)) {
            !running.contains(where: { !$0.isCompleted }) && openEventStreams == 0
        }
    }

    /// Suspends the connection and records it, unless the server is stopping. Suspending under
    /// the registry lock guarantees ``drain(grace:)`` sees every suspended connection.
    private func register(_ context: RequestContext) -> Bool {
        registry.withLock { registry in
            guard !registry.stopping else { return false }
            registry.suspended[ObjectIdentifier(context)] = context
            context.suspend()
            return true
        }
    }

    private func unregister(_ context: RequestContext) {
        _ = registry.withLock { $0.suspended.removeValue(forKey: ObjectIdentifier(context)) }
    }

    private func bodyTooLargeResponse() -> HTTPResponse {
        .problem(
            Problem(
                .bodyTooLarge, "The request body is larger than \(maxBodyBytes) bytes.",
                extensions: ["max_bytes": .int(Int64(maxBodyBytes))]))
    }

    /// Hands `response` to MHD. Common headers are added here.
    private func queue(_ response: HTTPResponse, for context: RequestContext) -> MHD_Result {
        var headers =
            response.headers + [
                HTTPHeader("Cache-Control", "no-store"), HTTPHeader("X-Request-Id", context.log.requestID),
            ]
        let created: OpaquePointer?
        // A HEAD of an event stream gets its headers only; no stream is opened.
        if let subscription = response.stream, context.method != "HEAD" {
            guard let stream = openStream(subscription, on: context.connection) else {
                return queue(
                    .problem(Problem(.shuttingDown, "The daemon is shutting down; retry once it is back.")),
                    for: context)
            }
            created = streamResponse(stream)
            // The connection serves nothing after the stream, whose heartbeats replace the idle timeout.
            headers.append(HTTPHeader("Connection", "close"))
            _ = cmhd_set_connection_timeout(context.connection.raw, 0)
        } else {
            created = response.body.withUnsafeBytes { bytes in
                MHD_create_response_from_buffer(
                    bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
            }
        }
        guard let created else {
            logger.error("could not create a response for \(context.method) \(context.path)")
            return .NO
        }
        defer { MHD_destroy_response(created) }
        for header in headers {
            _ = MHD_add_response_header(created, header.name, header.value)
        }
        let result = MHD_queue_response(context.connection.raw, UInt32(response.status), created)
        if result == .YES { context.markQueued(response) }
        return result
    }

    /// A new event stream on `connection`, registered for shutdown and started; nil when the
    /// server is stopping. The stream unregisters itself when it is closed.
    private func openStream(_ subscription: EventSubscription, on connection: ConnectionHandle) -> EventStream? {
        let stream = EventStream(subscription, connection: connection, heartbeatInterval: heartbeatInterval) {
            [weak self] stream in
            _ = self?.registry.withLock { $0.streams.removeValue(forKey: ObjectIdentifier(stream)) }
            self?.settled.changed()
        }
        let registered = registry.withLock { registry in
            guard !registry.stopping else { return false }
            registry.streams[ObjectIdentifier(stream)] = stream
            return true
        }
        guard registered else { return nil }
        stream.start()
        return stream
    }

    /// An MHD response of unknown size whose content reader is `stream`; the response holds a
    /// reference to the stream until its free callback closes it.
    private func streamResponse(_ stream: EventStream) -> OpaquePointer? {
        let retained = Unmanaged.passRetained(stream)
        let created = MHD_create_response_from_callback(
            CMHD_SIZE_UNKNOWN, Self.streamBlockSize, pinEventStreamRead, retained.toOpaque(),
            pinEventStreamFree)
        if created == nil {
            retained.release()
            stream.close()
        }
        return created
    }

    /// The buffer size MHD is asked to use for event streams.
    static let streamBlockSize = 16 << 10
}
