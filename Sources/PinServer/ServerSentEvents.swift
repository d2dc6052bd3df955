import PinCore
import PinJSON
import PinWire

/// The `text/event-stream` wire format (WHATWG HTML, "Server-sent events") as `GET /v1/events`
/// writes it.
enum ServerSentEvents {
    /// The media type of an event stream.
    static let contentType = "text/event-stream"

    /// Sent first: how long (in milliseconds) a client waits before reconnecting.
    static let retry = Array("retry: 2000\n\n".utf8)

    /// A comment line that keeps an idle stream alive; clients ignore it.
    static let heartbeat = Array(": heartbeat\n\n".utf8)

    /// `id: <seq>\nevent: <type>\ndata: <compact JSON>\n\n`. Compact JSON has no line breaks,
    /// so one `data:` line carries the whole event.
    static func frame(_ event: Event) -> [UInt8] {
        Array("id: \(event.sequence)\nevent: \(event.type.rawValue)\ndata: \(JSONCodec.encode(event.json))\n\n".utf8)
    }
}
