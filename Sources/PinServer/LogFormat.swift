import Logging

/// The format of the daemon's log lines (`--log-format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's text lines, every message and metadata value escaped (``EscapingLogHandler``).
    case text
    /// One JSON object per line (``JSONLogHandler``).
    case json

    /// A handler of this format for `label`, at `level`. Lines logged while a request's handler
    /// runs carry its `request_id`.
    public func handler(label: String, level: Logger.Level) -> any LogHandler {
        switch self {
        case .text:
            var handler = EscapingLogHandler(
                StreamLogHandler.standardError(label: label, metadataProvider: RequestLog.metadataProvider))
            handler.logLevel = level
            return handler
        case .json:
            var handler = JSONLogHandler(label: label, metadataProvider: RequestLog.metadataProvider)
            handler.logLevel = level
            return handler
        }
    }
}
