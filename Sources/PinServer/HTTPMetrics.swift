import CoreMetrics
import PinCore
import Synchronization

/// `pinlease_http_requests_total{route,method,status}` and
/// `pinlease_http_request_duration_seconds{route,method}`. The route is the matched route's
/// template (`/v1/leases/{id}`), never the raw path, and the method one of a fixed set, so the
/// label sets stay bounded. Each handle is made on first use and kept: recording a request
/// is one short lock (a dictionary lookup), an atomic add and the histogram's own lock.
/// Event streams are counted but not timed: they last as long as the client listens, which
/// says nothing about how fast the daemon answers.
final class HTTPMetrics: Sendable {
    static let descriptions: [MetricDescription] = [
        MetricDescription(
            "pinlease_http_requests_total", .counter,
            "HTTP requests answered, by route template, method and status (unmatched: no route)."),
        MetricDescription(
            "pinlease_http_request_duration_seconds", .histogram(buckets: MetricDescription.latencyBuckets),
            "Time from a request's headers to the end of its response, by route template and method "
                + "(event streams are not timed: they last as long as the client listens)."),
    ]

    /// The route label of a request that matched no route (404, 405, or refused before routing).
    static let unmatched = "unmatched"
    private static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    private struct RequestKey: Hashable, Sendable {
        let route: String
        let method: String
        let status: Int
    }

    private struct RouteKey: Hashable, Sendable {
        let route: String
        let method: String
    }

    private struct Handles: ~Copyable {
        var requests: [RequestKey: Counter] = [:]
        var durations: [RouteKey: CoreMetrics.Timer] = [:]
    }

    private let factory: any MetricsFactory
    private let handles = Mutex(Handles())

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// The method as a label: one of the HTTP methods the API knows, or `other`.
    static func methodLabel(_ method: String) -> String {
        methods.contains(method) ? method : "other"
    }

    /// Records one answered request; `elapsed` nil (an event stream) counts it without timing it.
    func record(route: String?, method: String, status: Int, elapsed: Duration?) {
        let route = route ?? Self.unmatched
        let method = Self.methodLabel(method)
        let (counter, timer) = handles.withLock { handles -> (Counter, CoreMetrics.Timer?) in
            let requestKey = RequestKey(route: route, method: method, status: status)
            let routeKey = RouteKey(route: route, method: method)
            if handles.requests[requestKey] == nil {
                handles.requests[requestKey] = Counter(
                    label: "pinlease_http_requests_total",
                    dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory)
            }
            guard elapsed != nil else { return (handles.requests[requestKey]!, nil) }
            if handles.durations[routeKey] == nil {
                handles.durations[routeKey] = CoreMetrics.Timer(
                    label: "pinlease_http_request_duration_seconds",
                    dimensions: [("route", route), ("method", method)], factory: factory)
            }
            return (handles.requests[requestKey]!, handles.durations[routeKey])
        }
        counter.increment()
        if let timer, let elapsed { timer.recordNanoseconds(DomainMetrics.nanoseconds(elapsed)) }
    }
}
