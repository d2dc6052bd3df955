/// How the ``WebhookSender`` delivers: which targets it may reach, how many transfers run at
/// once, timeouts and the retry backoff.
public struct WebhookConfiguration: Sendable {
    public var allowList: WebhookAllowList
    /// Transfers in flight at once (also the most connections open at once); more messages wait their turn.
    public var maxConcurrentTransfers: Int = 64
    /// Seconds for a whole request (connect, send, answer).
    public var requestTimeout: Double = 5
    /// Seconds to establish a connection (including TLS).
    public var connectTimeout: Double = 2
    public var backoff = BackoffSchedule()
    public var userAgent = "pinleased"
    /// Extra `CURLOPT_RESOLVE` entries ("host:port:address"), for tests that need a host name
    /// resolving to a chosen address without touching /etc/hosts.
    var resolve: [String] = []

    public init(allowList: WebhookAllowList) {
        self.allowList = allowList
    }
}
