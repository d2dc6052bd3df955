import PinCore

/// `GET /metrics`: the Prometheus text exposition of every metric, with the core's gauges read
/// at the scrape. No token needed unless the server is configured to require an admin token.
enum MetricsRoutes {
    /// The Content-Type of the text exposition format.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    static func routes(core: PinCoreService, metrics: ServerMetrics, gauges: CoreGaugeExport, requireToken: Bool)
        -> [Route]
    {
        [
            Route("GET", "/metrics", access: requireToken ? .admin : .anonymous) { _ in
                gauges.update(core.gauges())
                return HTTPResponse(
                    status: 200, headers: [HTTPHeader("Content-Type", contentType)], body: metrics.exposition())
            }
        ]
    }
}
