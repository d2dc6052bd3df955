/// How one of the daemon's metrics is exported: its name (the swift-metrics label), its help
/// text and, for a histogram, its bucket bounds. Each module lists the metrics it records; the
/// exporter (PinAssembly) gives every metric its help and buckets from these lists, so the
/// exposition documents every metric it shows. Names follow Prometheus' conventions
/// (`pinlease_` prefix, `_total` for counters, base units `_seconds` and `_bytes`).
package struct MetricDescription: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        case counter
        case gauge
        /// Upper bounds of the buckets, in the metric's unit (seconds for `_seconds`).
        case histogram(buckets: [Double])
    }

    package let name: String
    package let help: String
    package let kind: Kind

    package init(_ name: String, _ kind: Kind, _ help: String) {
        self.name = name
        self.kind = kind
        self.help = help
    }

    /// Request and commit latencies: 0.5 ms to 10 s.
    package static let latencyBuckets: [Double] = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]
    /// File operations (prepare writes gigabytes): 1 ms to 10 min.
    package static let operationBuckets: [Double] = [
        0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600,
    ]
}
