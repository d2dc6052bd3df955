import CMicroHTTPD
import LinuxFS
import Logging
import PinCore
import ServiceLifecycle
import Synchronization

/// The REST API over libmicrohttpd: one daemon (an epoll thread pool) per listener, TCP and
/// optionally a Unix socket. Handlers run on worker threads while their connection is
/// suspended, so a long `prepare` never blocks MHD's event loops. A service: ``run()`` serves
/// until graceful shutdown or cancellation.
public final class PinHTTPServer: Service {
    private let configuration: ServerConfiguration
    private let engine: HTTPEngine
    private let logger: Logger
    private let listeners = Mutex<[Listener]>([])

    /// A running MHD daemon and the socket it serves. Unchecked: the daemon pointer is only
    /// used by `stop()`, after it was taken out of the mutex.
    private struct Listener: @unchecked Sendable {
        let daemon: OpaquePointer
        let socket: ListeningSocket
        let connectionLimit: UInt32
    }

    /// A server for `core`, authenticating with `tokens`. Nothing listens until ``start()``.
    /// Requests are counted and timed through `metrics`, which `GET /metrics` serves.
    public convenience init(
        configuration: ServerConfiguration, core: PinCoreService, tokens: TokenStore, logger: Logger,
        metrics: ServerMetrics = .disabled
    ) {
        self.init(
            configuration: configuration,
            dispatcher: RequestDispatcher(
                core: core, tokens: tokens, logger: logger, metrics: metrics,
                metricsRequireToken: configuration.metricsRequireToken),
            logger: logger, metrics: metrics)
    }

    /// A server for any set of routes (tests use their own).
    init(
        configuration: ServerConfiguration, dispatcher: RequestDispatcher, logger: Logger,
        metrics: ServerMetrics = .disabled
    ) {
        self.configuration = configuration
        self.logger = logger
        engine = HTTPEngine(
            dispatcher: dispatcher, maxBodyBytes: configuration.maxBodyBytes,
            heartbeatInterval: .seconds(max(0.01, configuration.eventHeartbeatSeconds)),
            receiveLimitSeconds: configuration.requestReceiveTimeoutSeconds,
            idleLimitSeconds: Double(configuration.connectionTimeoutSeconds), logger: logger,
            metrics: HTTPMetrics(factory: metrics.factory))
    }

    deinit {
        stop()
    }

    /// The addresses being served, e.g. `["127.0.0.1:8470", "unix:/run/pinlease.sock"]`.
    public var listeningAddresses: [String] {
        listeners.withLock { $0.map(\.socket.address) }
    }

    /// Event streams (`GET /v1/events`) still open.
    var openEventStreams: Int {
        engine.openEventStreams
    }

    /// Binds the TCP address (and the Unix socket when configured) and starts serving. Each
    /// listener has its own MHD daemon, threads and connection limit, so connections held open
    /// on TCP never keep the operator out of the Unix socket. The soft descriptor limit is raised
    /// to the hard one, and connection limits not configured are derived from it.
    /// - Throws: ``HTTPServerError`` with a one-line reason; nothing is left listening then.
    public func start() throws {
        let automatic = ConnectionLimits.automatic(descriptors: ConnectionLimits.raiseDescriptorLimit())
        try listeners.withLock { (listeners: inout [Listener]) throws(HTTPServerError) in
            guard listeners.isEmpty else { throw HTTPServerError("the server is already running") }
            var sockets = [try ListeningSocket.tcp(host: configuration.listenHost, port: configuration.listenPort)]
            do throws(HTTPServerError) {
                if let path = configuration.unixSocketPath { sockets.append(try ListeningSocket.unix(path: path)) }
                for socket in sockets {
                    let limit =
                        configuration.connectionLimit ?? (socket.unixPath == nil ? automatic.tcp : automatic.unix)
                    listeners.append(
                        Listener(
                            daemon: try startDaemon(on: socket, connectionLimit: limit), socket: socket,
                            connectionLimit: limit))
                }
            } catch {
                for listener in listeners { MHD_stop_daemon(listener.daemon) }
                listeners = []
                for socket in sockets { socket.close() }
                throw error
            }
        }
        do throws(HTTPServerError) {
            try engine.watchdog.start()
        } catch {
            stop()
            throw error
        }
        let receiveLimit = configuration.requestReceiveTimeoutSeconds
        for listener in listeners.withLock({ $0 }) {
            logger.info(
                """
                listening on \(listener.socket.address) (at most \(listener.connectionLimit) connections, \
                requests within \(receiveLimit)s)
                """
            )
        }
    }

    /// Binds and serves (``start()``) until graceful shutdown or cancellation, then stops
    /// (``stop()``); returns once the listeners and their threads are gone.
    /// - Throws: ``HTTPServerError`` when it cannot start; nothing is left listening then.
    public func run() async throws {
        try await run(whenServing: {})
    }

    /// ``run()``, calling `whenServing` once connections are accepted (for the service
    /// manager's readiness notice).
    public func run(whenServing: @Sendable () -> Void) async throws {
        try start()
        whenServing()
        await shutdownRequested()
        try await blocking("http-stop") { [self] in stop() }
    }

    /// Stops accepting connections, ends every event stream, lets running handlers finish (up to
    /// the configured grace), answers the rest with 503, then stops the daemons and closes the
    /// sockets. Idempotent.
    public func stop() {
        let running = listeners.withLock { listeners in
            defer { listeners = [] }
            return listeners
        }
        guard !running.isEmpty else { return }
        // After quiescing, MHD no longer owns the listening socket (-1: it will close it itself).
        let quiesced = running.map { MHD_quiesce_daemon($0.daemon) >= 0 }
        engine.drain(grace: .seconds(Int64(configuration.shutdownGraceSeconds)))
        engine.watchdog.stop()
        for (listener, ownSocket) in zip(running, quiesced) {
            MHD_stop_daemon(listener.daemon)
            if ownSocket {
                listener.socket.close()
            } else {
                listener.socket.removeSocketFile()
            }
        }
        logger.info("HTTP server stopped")
    }

    /// The memory pool of each connection (libmicrohttpd's default is 32 KiB). MHD zeroes the
    /// whole pool after every request, so a kept-alive connection, idle or not, keeps all of it
    /// resident: 10,000 idle connections cost about 150 MiB at this size, 285 MiB at 32 KiB. It holds
    /// the request line and headers (up to about 15 KiB; more is answered 431) and the response
    /// headers; bodies are streamed through it, so their size is not bounded by it.
    static let connectionMemoryBytes = 16 << 10

    private func startDaemon(on socket: ListeningSocket, connectionLimit: UInt32) throws(HTTPServerError)
        -> OpaquePointer
    {
        let engineCls = Unmanaged.passUnretained(engine).toOpaque()
        typealias RequestLineCallback =
            @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, OpaquePointer?)
            -> UnsafeMutableRawPointer?
        let requestLine: RequestLineCallback = pinRequestLine
        var options = [
            MHD_OptionItem(
                option: .EXTERNAL_LOGGER, value: unsafeBitCast(pinMHDLog as MHD_LogCallback, to: Int.self),
                ptr_value: engineCls),
            MHD_OptionItem(
                option: .NOTIFY_CONNECTION,
                value: unsafeBitCast(pinConnectionNotify as MHD_NotifyConnectionCallback, to: Int.self),
                ptr_value: engineCls),
            MHD_OptionItem(
                option: .URI_LOG_CALLBACK, value: unsafeBitCast(requestLine, to: Int.self), ptr_value: engineCls),
            MHD_OptionItem(
                option: .NOTIFY_COMPLETED,
                value: unsafeBitCast(pinRequestCompleted as MHD_RequestCompletedCallback, to: Int.self),
                ptr_value: engineCls),
            MHD_OptionItem(option: .LISTEN_SOCKET, value: Int(socket.fd), ptr_value: nil),
            MHD_OptionItem(option: .CONNECTION_LIMIT, value: Int(connectionLimit), ptr_value: nil),
            MHD_OptionItem(
                option: .CONNECTION_TIMEOUT, value: Int(configuration.connectionTimeoutSeconds), ptr_value: nil),
            MHD_OptionItem(option: .CONNECTION_MEMORY_LIMIT, value: Self.connectionMemoryBytes, ptr_value: nil),
        ]
        if configuration.threads > 1 {
            options.append(MHD_OptionItem(option: .THREAD_POOL_SIZE, value: Int(configuration.threads), ptr_value: nil))
        }
        options.append(MHD_OptionItem(option: .END, value: 0, ptr_value: nil))
        let flags =
            MHD_USE_EPOLL_INTERNAL_THREAD.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_ERROR_LOG.rawValue
        let daemon = options.withUnsafeBufferPointer { items in
            cmhd_start_daemon(flags, 0, pinAccessHandler, engineCls, items.baseAddress)
        }
        guard let daemon else {
            throw HTTPServerError(
                "cannot serve on \(socket.address): libmicrohttpd failed to start (see the log above)")
        }
        return daemon
    }
}
