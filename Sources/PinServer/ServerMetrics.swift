import CoreMetrics
import PinCore

/// What the HTTP server needs for `GET /metrics`: the swift-metrics factory its own metrics
/// (requests, and the gauges set at each scrape) are made by, and the exposition of everything
/// recorded (the exporter, with its registry, lives in PinAssembly: the server only serves it).
public struct ServerMetrics: Sendable {
    public var factory: any MetricsFactory
    /// Every metric in the text exposition format (0.0.4).
    public var exposition: @Sendable () -> [UInt8]

    public init(factory: any MetricsFactory, exposition: @escaping @Sendable () -> [UInt8]) {
        self.factory = factory
        self.exposition = exposition
    }

    /// No exporter: nothing is recorded and `GET /metrics` serves an empty document.
    public static let disabled = ServerMetrics(factory: NOOPMetricsHandler.instance) { [] }

    /// The metrics the server records (for the exporter's help texts and buckets).
    package static let descriptions = HTTPMetrics.descriptions + CoreGaugeExport.descriptions
}
