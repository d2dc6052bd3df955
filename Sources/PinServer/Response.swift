import PinJSON

/// One response header.
struct HTTPHeader: Sendable, Equatable {
    let name: String
    let value: String

    init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A response: status, headers and either complete body bytes or an event stream whose body
/// is written while it is sent.
struct HTTPResponse: Sendable {
    let status: Int
    let headers: [HTTPHeader]
    let body: [UInt8]
    /// When set, the body is this event stream (and ``body`` is empty); it ends only when the
    /// client goes away or the server stops.
    let stream: EventSubscription?

    init(status: Int, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
        stream = nil
    }

    private init(streaming subscription: EventSubscription) {
        status = 200
        headers = [HTTPHeader("Content-Type", ServerSentEvents.contentType), HTTPHeader("X-Accel-Buffering", "no")]
        body = []
        stream = subscription
    }

    /// A `text/event-stream` of `subscription`'s events (status 200).
    static func eventStream(_ subscription: EventSubscription) -> HTTPResponse {
        HTTPResponse(streaming: subscription)
    }

    /// A JSON document (`application/json`).
    static func json(_ value: JSON, status: Int = 200, headers: [HTTPHeader] = []) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [HTTPHeader("Content-Type", "application/json")] + headers,
            body: Array((JSONCodec.encode(value) + "\n").utf8))
    }

    /// A problem document (`application/problem+json`) with the problem's own headers.
    static func problem(_ problem: Problem) -> HTTPResponse {
        HTTPResponse(
            status: problem.status, headers: [HTTPHeader("Content-Type", "application/problem+json")] + problem.headers,
            body: Array((JSONCodec.encode(problem.json) + "\n").utf8))
    }

    /// The first value of header `name` (case-insensitive).
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}
