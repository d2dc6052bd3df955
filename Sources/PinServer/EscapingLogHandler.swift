import Logging

/// A log handler that escapes control characters and other non-printable characters in every
/// message and metadata value before handing them to `base`, so that text from a request (a
/// path with `%0A`, a file name with an escape sequence) can never start a line of its own or
/// rewrite the terminal: one log call is always one line.
public struct EscapingLogHandler<Base: LogHandler>: LogHandler {
    public var base: Base

    public init(_ base: Base) {
        self.base = base
    }

    public func log(event: LogEvent) {
        var escaped = event
        escaped.message = Logger.Message(stringLiteral: LogText.escape(event.message.description))
        escaped.metadata = event.metadata.map(LogText.escape)
        base.log(event: escaped)
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: LogText.escape(key)] = newValue.map(LogText.escape) }
    }

    public var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = LogText.escape(newValue) }
    }

    public var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }
}

/// Escaping of text for one-line log records.
public enum LogText {
    /// `text` with `\n`, `\r` and `\t` written as such and every other control, format, separator,
    /// surrogate, private-use or unassigned character as `\u{XXXX}`; printable text is unchanged.
    public static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 >= 0x7F }) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if isPrintable(scalar) {
                    result.unicodeScalars.append(scalar)
                } else {
                    result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                }
            }
        }
        return result
    }

    /// Every key and value of `metadata` escaped.
    public static func escape(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var escaped: Logger.Metadata = [:]
        for (key, value) in metadata { escaped[escape(key)] = escape(value) }
        return escaped
    }

    /// A metadata value with every string in it escaped.
    public static func escape(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(escape(text))
        case .stringConvertible(let convertible): .string(escape(convertible.description))
        case .array(let values): .array(values.map(escape))
        case .dictionary(let metadata): .dictionary(escape(metadata))
        }
    }

    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned: false
        default: true
        }
    }
}
