import PinCore
import PinJSON

/// `GET /v1/events`: lease and file events as a Server-Sent Events stream. Any token; a holder
/// token sees only the events of its own leases.
///
/// The stream starts after the `Last-Event-ID` header when one is sent (a reconnecting
/// `EventSource` sends the last id it received, which is newer than the `since` of the URL it
/// first opened), else after `?since=N`, else after the newest event now (only new events).
/// A start the log can no longer replay in full is refused, never skipped silently: 410
/// `events-expired` when events after it were forgotten (retention), 422 `invalid-query` when
/// it is newer than the newest event (it was not handed out by this state directory).
enum EventRoutes {
    static func routes(events: EventLog) -> [Route] {
        [
            Route("GET", "/v1/events", access: .authenticated) { request in
                let holder = try visibleHolder(for: request.principal)
                let requested = try startSequence(of: request)
                if let requested {
                    try requireResumable(events, after: requested, parameter: startParameter(of: request))
                }
                let after = requested ?? events.lastSequence
                return .eventStream(EventSubscription(log: events, after: after, holder: holder))
            },
            // The newest event's number, for a client that reads what was recorded up to now
            // (`?since=N`, then stop once it reached this number) without opening a stream.
            Route("GET", "/v1/events/latest", access: .authenticated) { _ in
                .json(["last_sequence": .int(Int64(clamping: events.lastSequence))])
            },
        ]
    }

    private static func requireResumable(_ events: EventLog, after: UInt64, parameter: String) throws {
        switch events.resumption(after: after) {
        case .available:
            return
        case .expired(let oldest):
            var extensions: ErrorExtensions = [
                "since": .integer(Int64(clamping: after)),
                "last_sequence": .integer(Int64(clamping: events.lastSequence)),
            ]
            if let oldest { extensions["oldest_sequence"] = .integer(Int64(clamping: oldest)) }
            throw CoreError(
                .eventsExpired,
                "events after \(after) are no longer kept (the oldest kept is \(oldest.map(String.init) ?? "none")); "
                    + "start again without since or Last-Event-ID and re-read the current state",
                extensions: extensions)
        case .ahead(let last):
            throw Problem(
                .invalidQuery,
                "\(parameter) \(after) is newer than the newest event (\(last)); "
                    + "it was not sent by this daemon's state",
                extensions: ["parameter": .string(parameter), "last_sequence": .int(Int64(clamping: last))])
        }
    }

    /// The sequence number the stream starts after, from `Last-Event-ID` or `since`; nil when
    /// neither was sent (an empty `Last-Event-ID` counts as not sent, as in the SSE spec).
    /// - Throws: `invalid-query` (422) when the value is not an integer ≥ 0.
    static func startSequence(of request: HTTPRequest) throws(Problem) -> UInt64? {
        if let header = request.lastEventID, !header.isEmpty {
            return try sequenceNumber(header, parameter: "Last-Event-ID")
        }
        return try request.query["since"].map { text throws(Problem) in try sequenceNumber(text, parameter: "since") }
    }

    /// The name of the parameter the start came from, for problems.
    private static func startParameter(of request: HTTPRequest) -> String {
        if let header = request.lastEventID, !header.isEmpty { return "Last-Event-ID" }
        return "since"
    }

    /// `nil` (every event) for admin tokens, the holder's name for holder tokens.
    private static func visibleHolder(for principal: Principal?) throws(Problem) -> String? {
        if principal?.role == .admin { return nil }
        guard let holder = principal?.holder else { throw Problem(.forbidden, "This token names no holder.") }
        return holder
    }

    private static func sequenceNumber(_ text: String, parameter: String) throws(Problem) -> UInt64 {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let value = UInt64(text)
        else {
            throw Problem(
                .invalidQuery, "\(parameter) must be an event sequence number (an integer of at least 0).",
                extensions: ["parameter": .string(parameter)])
        }
        return value
    }
}
