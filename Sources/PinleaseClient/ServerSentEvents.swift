/// One Server-Sent Events frame: its `id`, `event` and the joined `data` lines.
public struct ServerSentEvent: Sendable, Equatable {
    public var id: String?
    public var event: String?
    public var data: String

    public init(id: String? = nil, event: String? = nil, data: String) {
        self.id = id
        self.event = event
        self.data = data
    }
}

/// Splits a `text/event-stream` into frames as bytes arrive (in pieces of any size). Comment
/// lines (`: heartbeat`) and `retry:` are skipped; a frame without data is not delivered.
public struct ServerSentEventParser: Sendable {
    private var line: [UInt8] = []
    private var pending = ServerSentEvent(data: "")
    private var hasData = false
    private var lastWasCR = false
    /// Comment lines seen so far (the daemon's `: heartbeat`): the stream had nothing else to send.
    public private(set) var comments = 0

    public init() {}

    /// Feeds bytes; returns the frames that they complete, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        var frames: [ServerSentEvent] = []
        for byte in bytes {
            if byte == 0x0A && lastWasCR {  // the LF of a CRLF ends nothing new
                lastWasCR = false
                continue
            }
            lastWasCR = byte == 0x0D
            if byte == 0x0A || byte == 0x0D {
                if let frame = endLine() { frames.append(frame) }
            } else {
                line.append(byte)
            }
        }
        return frames
    }

    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            defer {
                pending = ServerSentEvent(data: "")
                hasData = false
            }
            return hasData ? pending : nil
        }
        if line.first == UInt8(ascii: ":") {
            comments += 1
            return nil
        }
        let text = String(decoding: line, as: UTF8.self)
        let name: Substring
        var value: Substring
        if let colon = text.firstIndex(of: ":") {
            name = text[..<colon]
            value = text[text.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
        } else {
            name = Substring(text)
            value = ""
        }
        switch name {
        case "data":
            pending.data += hasData ? "\n" + value : String(value)
            hasData = true
        case "id": pending.id = String(value)
        case "event": pending.event = String(value)
        default: break
        }
        return nil
    }
}
