import CoreMetrics
import PinCore
import PinStore
import Prometheus

/// The daemon's metrics in Prometheus' text exposition format (through swift-prometheus): one
/// registry per exporter, filled through ``factory``, which is passed explicitly to the core,
/// the store and the HTTP server. The global `MetricsSystem` is never bootstrapped, so tests
/// that run several daemons or cores in one process keep their metrics apart.
package final class PrometheusExporter: Sendable {
    /// What the domain and the store record (the HTTP server adds its own).
    package static let domainDescriptions = DomainMetrics.descriptions + LeaseStore.metricDescriptions
    /// The build's version and commit, as `pinlease_build_info{version,commit} 1`.
    package static let buildInfo = MetricDescription(
        "pinlease_build_info", .gauge, "The daemon's version and git commit (always 1).")

    private let registry = PrometheusCollectorRegistry()
    /// Makes every metric in this exporter's registry, with the help text and buckets of its description.
    package let factory: any MetricsFactory

    /// An exporter for the metrics `descriptions` name, and the build info of `version` and `commit`.
    package init(descriptions: [MetricDescription], version: String, commit: String) {
        var byName: [String: MetricDescription] = [:]
        for description in descriptions + [Self.buildInfo] { byName[description.name] = description }
        factory = DescribedPrometheusFactory(registry: registry, descriptions: byName)
        Gauge(label: Self.buildInfo.name, dimensions: [("version", version), ("commit", commit)], factory: factory)
            .record(1)
    }

    /// Every metric recorded so far, in the text exposition format (version 0.0.4).
    package func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}

/// swift-metrics' factory over a Prometheus registry that gives each metric the help text and
/// buckets its ``MetricDescription`` declares (swift-prometheus' own factory gives no help
/// text, which `promtool check metrics` reports). A metric without a description gets its
/// name as help and the latency buckets.
struct DescribedPrometheusFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    let descriptions: [String: MetricDescription]

    /// The full name is the label (the unit is part of it already).
    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: descriptions[label]?.help ?? label)
    }

    private func buckets(_ label: String) -> [Double] {
        if case .histogram(let buckets) = descriptions[label]?.kind { return buckets }
        return MetricDescription.latencyBuckets
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets(label))
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let seconds = buckets(label).map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }
        return registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: seconds)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge {
            registry.unregisterGauge(gauge)
        } else if let histogram = handler as? ValueHistogram {
            registry.unregisterValueHistogram(histogram)
        }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
