import CoreMetrics
import PinAssembly
import Testing

@testable import PinCore
@testable import PinServer

/// The exporter and the server's metrics: every metric named in a description is exposed with
/// its help text and buckets, exporters keep apart, HTTP requests are labelled by route
/// template and a bounded method, and the origins of the webhook queue gauge are bounded.
@Suite struct MetricsExportTests {
    private static let descriptions = PrometheusExporter.domainDescriptions + ServerMetrics.descriptions

    /// `# HELP` texts by metric name, and the sample lines.
    private func parse(_ bytes: [UInt8]) -> (help: [String: String], types: [String: String], samples: [String]) {
        var help: [String: String] = [:]
        var types: [String: String] = [:]
        var samples: [String] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
            if line.hasPrefix("# HELP "), parts.count == 4 {
                help[parts[2]] = parts[3]
            } else if line.hasPrefix("# TYPE "), parts.count == 4 {
                types[parts[2]] = parts[3]
            } else if !line.hasPrefix("#") {
                samples.append(String(line))
            }
        }
        return (help, types, samples)
    }

    private func exporter() -> PrometheusExporter {
        PrometheusExporter(descriptions: Self.descriptions, version: "1.2.3", commit: "abc123")
    }

    @Test func everyDescribedMetricIsExposedWithItsHelpAndType() {
        let exporter = exporter()
        _ = DomainMetrics(factory: exporter.factory)
        let gauges = CoreGaugeExport(factory: exporter.factory)
        gauges.update(
            CoreGauges(
                status: DaemonStatus(
                    filesByState: [.locked: 1], pinsByState: [.active: 1],
                    budget: PinBudgetUsage(
                        budget: PinBudget(maxBytes: 1 << 30, maxPins: 16), pinnedBytes: 8192, pins: 1),
                    leasesByState: [.active: 2], lastEventSequence: 0),
                webhookQueueDepth: ["http://127.0.0.1:9000": 3]))
        HTTPMetrics(factory: exporter.factory).record(
            route: "/v1/leases", method: "POST", status: 201, elapsed: .milliseconds(3))
        Counter(label: "pinlease_state_commits_total", dimensions: [("result", "ok")], factory: exporter.factory)
            .increment()
        Recorder(label: "pinlease_state_commit_batch_size", dimensions: [], factory: exporter.factory).record(3)
        CoreMetrics.Timer(label: "pinlease_state_commit_duration_seconds", dimensions: [], factory: exporter.factory)
            .recordNanoseconds(1_000_000)
        let (help, types, samples) = parse(exporter.exposition())
        for description in Self.descriptions + [PrometheusExporter.buildInfo] {
            #expect(help[description.name] == description.help, "\(description.name)")
            let type: String =
                switch description.kind {
                case .counter: "counter"
                case .gauge: "gauge"
                case .histogram: "histogram"
                }
            #expect(types[description.name] == type, "\(description.name)")
        }
        #expect(samples.contains(#"pinlease_build_info{version="1.2.3",commit="abc123"} 1.0"#))
        #expect(samples.contains(#"pinlease_leases{state="active"} 2.0"#))
        #expect(samples.contains(#"pinlease_leases{state="expired"} 0.0"#))
        #expect(samples.contains(#"pinlease_pinned_bytes 8192.0"#))
        #expect(samples.contains(#"pinlease_webhook_queue_depth{origin="http://127.0.0.1:9000"} 3.0"#))
        #expect(samples.contains(#"pinlease_http_requests_total{route="/v1/leases",method="POST",status="201"} 1"#))
        // Buckets as described: the batch size's own, and seconds for a duration.
        #expect(samples.contains(#"pinlease_state_commit_batch_size_bucket{le="4.0"} 1"#))
        #expect(samples.contains(#"pinlease_state_commit_batch_size_bucket{le="2.0"} 0"#))
        #expect(samples.contains(#"pinlease_state_commit_duration_seconds_bucket{le="0.001"} 1"#))
        #expect(samples.contains(#"pinlease_state_commit_duration_seconds_bucket{le="0.0005"} 0"#))
    }

    @Test func exportersKeepTheirMetricsApart() {
        let first = exporter()
        let second = exporter()
        HTTPMetrics(factory: first.factory).record(route: nil, method: "GET", status: 404, elapsed: .zero)
        let line = #"pinlease_http_requests_total{route="unmatched",method="GET",status="404"} 1"#
        #expect(parse(first.exposition()).samples.contains(line))
        #expect(!parse(second.exposition()).samples.contains { $0.hasPrefix("pinlease_http_requests_total") })
    }

    @Test func anOriginWithNothingPendingLosesItsSeries() {
        let exporter = exporter()
        let gauges = CoreGaugeExport(factory: exporter.factory)
        let usage = PinBudgetUsage(budget: PinBudget(maxBytes: 1 << 20, maxPins: 1), pinnedBytes: 0, pins: 0)
        let status = DaemonStatus(
            filesByState: [:], pinsByState: [:], budget: usage, leasesByState: [:], lastEventSequence: 0)
        func update(_ depths: [String: Int]) {
            gauges.update(CoreGauges(status: status, webhookQueueDepth: depths))
        }
        update(["http://a:80": 1, "http://b:80": 2])
        update(["http://b:80": 1])
        let depths = parse(exporter.exposition()).samples.filter { $0.hasPrefix("pinlease_webhook_queue_depth") }
        #expect(depths == [#"pinlease_webhook_queue_depth{origin="http://b:80"} 1.0"#])
    }

    @Test func originsPastTheBoundAreSummedAsOther() {
        var depths: [String: Int] = [:]
        for n in 0..<40 { depths["http://host\(n):80"] = n + 1 }
        let bounded = CoreGaugeExport.bounded(depths, maxOrigins: 32)
        #expect(bounded.count == 32)
        #expect(bounded["http://host39:80"] == 40)  // the deepest are kept
        #expect(bounded["http://host0:80"] == nil)
        #expect(bounded["other"] == (1...9).reduce(0, +))
        #expect(bounded.values.reduce(0, +) == depths.values.reduce(0, +))
        #expect(CoreGaugeExport.bounded(["http://a:80": 1], maxOrigins: 32) == ["http://a:80": 1])
    }

    @Test func methodsOutsideTheAPIsAreOther() {
        #expect(HTTPMetrics.methodLabel("POST") == "POST")
        #expect(HTTPMetrics.methodLabel("BREW") == "other")
        #expect(HTTPMetrics.methodLabel("get") == "other")
    }

    /// The route label the engine gives the metrics: the route template the dispatcher put in
    /// the request's log, whatever the response.
    @Test func theDispatcherLabelsRequestsWithTheRouteTemplate() {
        let admin = "admin-token-value"
        func route(_ method: String, _ path: String, token: String? = nil) -> String? {
            let request = HTTPRequest(method: method, path: path, authorization: token.map { "Bearer \($0)" })
            _ = RequestDispatcherTests.dispatcher.respond(to: request)
            return request.log.route
        }
        #expect(route("GET", "/v1/things/42", token: admin) == "/v1/things/{id}")
        #expect(route("GET", "/v1/things/42") == "/v1/things/{id}")  // 401 too
        #expect(route("POST", "/v1/boom", token: admin) == "/v1/boom")  // 500
        #expect(route("GET", "/v1/nothing/here", token: admin) == nil)
        #expect(route("DELETE", "/healthz") == nil)  // 405: no route matched
    }

    @Test func eventStreamsAreCountedButNotTimed() {
        let exporter = exporter()
        let metrics = HTTPMetrics(factory: exporter.factory)
        metrics.record(route: "/v1/events", method: "GET", status: 200, elapsed: nil)
        let samples = parse(exporter.exposition()).samples
        #expect(samples.contains(#"pinlease_http_requests_total{route="/v1/events",method="GET",status="200"} 1"#))
        #expect(!samples.contains { $0.hasPrefix("pinlease_http_request_duration_seconds") })
    }
}
