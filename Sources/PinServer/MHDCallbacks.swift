import CMicroHTTPD
import Glibc  // vsnprintf: libmicrohttpd's log callback hands a printf format and a va_list
import Logging

// The C callbacks given to libmicrohttpd. They are top-level functions (never closures in
// main.swift, which would be main-actor isolated) and only translate between C and the
// `HTTPEngine` passed as their closure pointer (unretained: the server outlives its daemons).

/// `MHD_AccessHandlerCallback`: called once with the headers, once per body chunk, then with
/// no data when the body is complete, and once more after each resume.
func pinAccessHandler(
    _ engineCls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?, _ url: UnsafePointer<CChar>?,
    _ method: UnsafePointer<CChar>?, _ version: UnsafePointer<CChar>?, _ uploadData: UnsafePointer<CChar>?,
    _ uploadDataSize: UnsafeMutablePointer<Int>?, _ requestCls: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> MHD_Result {
    guard let engineCls, let connection, let uploadDataSize, let requestCls else { return .NO }
    let engine = Unmanaged<HTTPEngine>.fromOpaque(engineCls).takeUnretainedValue()
    guard let stored = requestCls.pointee else {
        let watch = cmhd_socket_context(connection).map {
            Unmanaged<ConnectionWatch>.fromOpaque($0).takeUnretainedValue()
        }
        let context = RequestContext(
            method: method.map { String(cString: $0) } ?? "",
            path: url.map { String(cString: $0) } ?? "/",
            contentType: headerValue(connection, "Content-Type"),
            authorization: headerValue(connection, "Authorization"),
            lastEventID: headerValue(connection, "Last-Event-ID"),
            query: queryArguments(connection),
            connection: ConnectionHandle(raw: connection),
            watch: watch, requestID: headerValue(connection, "X-Request-Id"))
        requestCls.pointee = Unmanaged.passRetained(context).toOpaque()
        return engine.begin(
            context, declaredLength: headerValue(connection, "Content-Length").flatMap { Int($0) },
            refusedTarget: watch?.refusedTarget)
    }
    let context = Unmanaged<RequestContext>.fromOpaque(stored).takeUnretainedValue()
    if uploadDataSize.pointee > 0 {
        let chunk = UnsafeRawBufferPointer(start: uploadData, count: uploadDataSize.pointee)
        uploadDataSize.pointee = 0
        return engine.receive(chunk, for: context)
    }
    return engine.complete(context)
}

/// `MHD_RequestCompletedCallback`: writes the access log line and releases the request state.
func pinRequestCompleted(
    _ engineCls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
    _ requestCls: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ termination: MHD_RequestTerminationCode
) {
    guard let engineCls, let requestCls, let stored = requestCls.pointee else { return }
    requestCls.pointee = nil
    let context = Unmanaged<RequestContext>.fromOpaque(stored).takeRetainedValue()
    Unmanaged<HTTPEngine>.fromOpaque(engineCls).takeUnretainedValue().completed(context, termination: termination)
}

/// `MHD_NotifyConnectionCallback`: a connection was accepted or is about to be closed (its socket
/// is closed only after this returns). The connection's ``ConnectionWatch`` lives, retained, in
/// its socket context in between.
func pinConnectionNotify(
    _ engineCls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
    _ socketContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    _ code: MHD_ConnectionNotificationCode
) {
    guard let engineCls, let connection, let socketContext else { return }
    let watchdog = Unmanaged<HTTPEngine>.fromOpaque(engineCls).takeUnretainedValue().watchdog
    switch code {
    case .CONNECTION_NOTIFY_STARTED:
        let watch = watchdog.connectionStarted(fd: cmhd_connection_fd(connection))
        socketContext.pointee = Unmanaged.passRetained(watch).toOpaque()
    case .CONNECTION_NOTIFY_CLOSED:
        guard let stored = socketContext.pointee else { return }
        socketContext.pointee = nil
        watchdog.connectionClosed(Unmanaged<ConnectionWatch>.fromOpaque(stored).takeRetainedValue())
    default:
        break
    }
}

/// MHD's URI log callback: a request line arrived. Starts the request's receive bound and notes
/// whether the raw target (path and query, before MHD decodes it in place, which would cut it at
/// a `%00`) holds a control character. Returns NULL: the access handler creates the request state.
func pinRequestLine(_ engineCls: UnsafeMutableRawPointer?, _ uri: UnsafePointer<CChar>?, _ connection: OpaquePointer?)
    -> UnsafeMutableRawPointer?
{
    guard let engineCls, let connection, let stored = cmhd_socket_context(connection) else { return nil }
    let watch = Unmanaged<ConnectionWatch>.fromOpaque(stored).takeUnretainedValue()
    Unmanaged<HTTPEngine>.fromOpaque(engineCls).takeUnretainedValue().watchdog.requestStarted(watch)
    watch.setRefusedTarget(
        uri.flatMap { RequestTarget.controlCharacter(in: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self)) })
    return nil
}

/// `MHD_ContentReaderCallback` of an event stream (its closure pointer is the retained
/// ``EventStream``): bytes copied, 0 after suspending the connection, or the end of the stream.
func pinEventStreamRead(
    _ streamCls: UnsafeMutableRawPointer?, _ position: UInt64, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> Int {
    guard let streamCls, let buffer else { return CMHD_CONTENT_READER_END_WITH_ERROR }
    let stream = Unmanaged<EventStream>.fromOpaque(streamCls).takeUnretainedValue()
    switch stream.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: capacity)) {
    case .bytes(let count): return count
    case .suspended: return 0
    case .end: return CMHD_CONTENT_READER_END_OF_STREAM
    }
}

/// `MHD_ContentReaderFreeCallback` of an event stream: MHD is done with it; closes and releases it.
func pinEventStreamFree(_ streamCls: UnsafeMutableRawPointer?) {
    guard let streamCls else { return }
    Unmanaged<EventStream>.fromOpaque(streamCls).takeRetainedValue().close()
}

/// `MHD_LogCallback`: libmicrohttpd's own error messages, through the server's logger.
func pinMHDLog(_ engineCls: UnsafeMutableRawPointer?, _ format: UnsafePointer<CChar>?, _ arguments: CVaListPointer?) {
    guard let engineCls, let format, let arguments else { return }
    var buffer = [CChar](repeating: 0, count: 512)
    _ = vsnprintf(&buffer, buffer.count, format, arguments)
    let message = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.trimmingWhitespace
    let logger = Unmanaged<HTTPEngine>.fromOpaque(engineCls).takeUnretainedValue().logger
    // A connection ended by its client or by the receive watchdog (which logs a count of its
    // own) is routine: one warning per connection would let slow clients flood the log.
    if message.hasPrefix("Connection socket is closed when reading request")
        || message.hasPrefix("Connection was closed by remote side")
    {
        logger.debug("libmicrohttpd: \(message)")
    } else {
        logger.warning("libmicrohttpd: \(message)")
    }
}

/// The decoded query-string arguments of the request.
private func queryArguments(_ connection: OpaquePointer) -> [String: String] {
    let collected = QueryArguments()
    let cls = Unmanaged.passUnretained(collected).toOpaque()
    _ = withExtendedLifetime(collected) {
        MHD_get_connection_values(connection, .GET_ARGUMENT_KIND, pinQueryArgument, cls)
    }
    return collected.values
}

/// Where ``pinQueryArgument`` collects the arguments; used by one thread only, within one call.
private final class QueryArguments {
    var values: [String: String] = [:]
}

/// `MHD_KeyValueIterator` over the query arguments; an argument without `=` has an empty value.
private func pinQueryArgument(
    _ cls: UnsafeMutableRawPointer?, _ kind: MHD_ValueKind, _ key: UnsafePointer<CChar>?, _ value: UnsafePointer<CChar>?
) -> MHD_Result {
    guard let cls, let key else { return .YES }
    Unmanaged<QueryArguments>.fromOpaque(cls).takeUnretainedValue().values[String(cString: key)] =
        value.map { String(cString: $0) } ?? ""
    return .YES
}

/// A request header (case-insensitive), or nil. A value that MHD cut short at a NUL byte keeps a
/// NUL at its end (U+0000), so that the checks of the value (the bearer token grammar among them)
/// see that it held one.
private func headerValue(_ connection: OpaquePointer, _ name: String) -> String? {
    var length = 0
    guard let value = cmhd_header_value(connection, name, &length) else { return nil }
    let text = String(decoding: UnsafeRawBufferPointer(start: value, count: length), as: UTF8.self)
    return cmhd_header_hides_bytes(connection, value, length) != 0 ? text + "\u{0}" : text
}
