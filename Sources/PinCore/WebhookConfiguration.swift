/// How the ``WebhookSender`` delivers: which targets it may reach, how many transfers run at
/// once, timeouts and the retry backoff.
public struct WebhookConfiguration: Sendable {
    public var allowList: WebhookAllowList
    /// Transfers in flight at once (also the most connections open at once); more messages wait their turn.
    public var maxConcurrentTransfers: Int = 64
    /// Transfers in flight at once to one origin (scheme, host, port): below
    /// `maxConcurrentTransfers`, so that receivers that hang cannot take every transfer.
    public var maxTransfersPerOrigin: Int = 8
    /// Seconds for a whole request (connect, send, answer): bounds a receiver that never answers.
    public var requestTimeout: Double = 5
    /// Seconds to establish a connection (including TLS).
    public var connectTimeout: Double = 2
    /// Between attempts of a call to act (`lease.revoking`, `lease.expired`), until its deadline.
    public var backoff = BackoffSchedule()
    /// The attempts of a final notice (``WebhookMessage/followsRetrySchedule``).
    public var retrySchedule = RetrySchedule.standard
    public var userAgent = "pinleased"
    /// Extra `CURLOPT_RESOLVE` entries ("host:port:address"), for tests that need a host name
    /// resolving to a chosen address without touching /etc/hosts.
    package var resolve: [String] = []

    public init(allowList: WebhookAllowList) {
        self.allowList = allowList
    }
}
