/// Where and how the HTTP server listens.
public struct ServerConfiguration: Sendable {
    /// The TCP address: an IPv4 or IPv6 literal (`127.0.0.1`, `::1`, `[::1]`) or a host name.
    public var listenHost: String
    public var listenPort: UInt16
    /// When set, the API is also served on this Unix socket (created with mode 0660).
    public var unixSocketPath: String?
    /// Larger request bodies are refused with 413.
    public var maxBodyBytes: Int
    /// Concurrent connections per listener; nil: derived from the descriptor limit
    /// (see ``ConnectionLimits``).
    public var connectionLimit: UInt32?
    /// Idle connections are closed after this many seconds (0: never).
    public var connectionTimeoutSeconds: UInt32
    /// A request (request line, headers and body) must arrive within this many seconds of the
    /// connection's accept or of the previous request's end; slower connections are closed.
    public var requestReceiveTimeoutSeconds: Double
    /// libmicrohttpd event-loop threads per listener.
    public var threads: UInt32
    /// How long ``PinHTTPServer/stop()`` waits for running handlers before answering them 503.
    public var shutdownGraceSeconds: UInt32
    /// An event stream (`GET /v1/events`) that sent no event for this long gets a comment line,
    /// so that proxies keep it open and a client that went away is noticed.
    public var eventHeartbeatSeconds: Double
    /// `GET /metrics` needs an admin token (by default it needs none, like `/healthz`).
    public var metricsRequireToken = false

    public init(
        listenHost: String = "127.0.0.1",
        listenPort: UInt16 = 8470,
        unixSocketPath: String? = nil,
        maxBodyBytes: Int = 1 << 20,
        connectionLimit: UInt32? = nil,
        connectionTimeoutSeconds: UInt32 = 30,
        requestReceiveTimeoutSeconds: Double = 10,
        threads: UInt32 = 4,
        shutdownGraceSeconds: UInt32 = 10,
        eventHeartbeatSeconds: Double = 15
    ) {
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.unixSocketPath = unixSocketPath
        self.maxBodyBytes = maxBodyBytes
        self.connectionLimit = connectionLimit
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.requestReceiveTimeoutSeconds = requestReceiveTimeoutSeconds
        self.threads = threads
        self.shutdownGraceSeconds = shutdownGraceSeconds
        self.eventHeartbeatSeconds = eventHeartbeatSeconds
    }
}
