import LinuxFS
import Logging
import PinJSON

/// A log handler writing one JSON object per line to standard error: `timestamp` (RFC 3339 UTC,
/// milliseconds), `level`, `logger` (the label), `message`, then every metadata value as a
/// member of its own (`request_id`, `status`, `lease_id`...). Integers, reals and booleans
/// logged as `.stringConvertible` stay numbers and booleans. Strings are escaped by jansson
/// with every non-ASCII character as `\uXXXX`, so a line never holds a raw control character
/// and one log call is always one line.
public struct JSONLogHandler: LogHandler {
    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// The members every line starts with; a metadata key equal to one of them gets a `_` appended.
    static let reservedKeys: Set<String> = ["timestamp", "level", "logger", "message"]

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let given = event.metadata { merged.merge(given) { _, new in new } }
        let line = Self.line(
            timestamp: SystemClock.realtime(), level: event.level, label: label, message: event.message.description,
            metadata: merged)
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        // One write per line (stderr is unbuffered), so lines of concurrent threads never interleave;
        // a failed write is dropped: there is nowhere left to report it.
        try? bytes.withUnsafeBytes { try StandardError.writeAll($0) }
    }

    /// The JSON text of one record (without the newline); metadata members in key order.
    static func line(
        timestamp: (seconds: Int64, nanoseconds: Int64), level: Logger.Level, label: String, message: String,
        metadata: Logger.Metadata
    ) -> String {
        var object: JSONObject = [
            "timestamp": .string(rfc3339(timestamp)), "level": .string(level.rawValue), "logger": .string(label),
            "message": .string(message),
        ]
        for key in metadata.keys.sorted() {
            let name = reservedKeys.contains(key) ? key + "_" : key
            object[name] = json(metadata[key]!)
        }
        return JSONCodec.encodeLogLine(.object(object))
    }

    /// A metadata value as JSON: numbers and booleans given as `.stringConvertible` stay such.
    static func json(_ value: Logger.Metadata.Value) -> JSON {
        switch value {
        case .string(let text):
            return .string(text)
        case .stringConvertible(let convertible):
            switch convertible {
            case let flag as Bool: return .bool(flag)
            case let number as any BinaryInteger: return Int64(exactly: number).map { .int($0) } ?? .string("\(number)")
            case let number as Double: return number.isFinite ? .double(number) : .string("\(number)")
            default: return .string(convertible.description)
            }
        case .array(let values):
            return .array(values.map(json))
        case .dictionary(let members):
            var object = JSONObject()
            for key in members.keys.sorted() { object[key] = json(members[key]!) }
            return .object(object)
        }
    }

    /// `2026-12-02T03:41:07.123Z`.
    static func rfc3339(_ time: (seconds: Int64, nanoseconds: Int64)) -> String {
        let calendar = CalendarTime(utcEpochSeconds: time.seconds)
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(calendar.year, 4))-\(pad(calendar.month, 2))-\(pad(calendar.day, 2))T"
            + "\(pad(calendar.hour, 2)):\(pad(calendar.minute, 2)):\(pad(calendar.second, 2))."
            + "\(pad(Int(time.nanoseconds / 1_000_000), 3))Z"
    }
}
