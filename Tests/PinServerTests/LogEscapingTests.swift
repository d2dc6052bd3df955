import Logging
import Synchronization
import Testing

@testable import PinServer

/// A log handler that keeps what it is given, formatted as one record per entry.
struct RecordingLogHandler: LogHandler {
    final class Records: Sendable {
        let lines = Mutex<[String]>([])
    }

    let records: Records

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        let metadata = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        records.lines.withLock { $0.append("\(event.level) \(metadata) \(event.message)") }
    }

    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}

@Suite("Log escaping")
struct LogEscapingTests {
    @Test("control and other non-printable characters are escaped; printable text is unchanged")
    func escape() {
        #expect(LogText.escape("GET /v1/files 200") == "GET /v1/files 200")
        #expect(LogText.escape("café ✓ 日本") == "café ✓ 日本")
        #expect(LogText.escape("a\nb\rc\td") == "a\\nb\\rc\\td")
        #expect(LogText.escape("x\u{0}y\u{1B}[2J\u{7F}") == "x\\u{0}y\\u{1B}[2J\\u{7F}")
        #expect(LogText.escape("\u{85}\u{2028}\u{2029}\u{202E}") == "\\u{85}\\u{2028}\\u{2029}\\u{202E}")
    }

    @Test("a message and metadata with line breaks stay one record with no line break")
    func handlerEscapesMessageAndMetadata() {
        let records = RecordingLogHandler.Records()
        var logger = Logger(label: "test") { _ in EscapingLogHandler(RecordingLogHandler(records: records)) }
        logger[metadataKey: "path"] = "a\nb"
        let path = "/healthz\n2026-01-01T00:00:00+0000 critical pinleased: forged"
        logger.info("GET \(path) 404", metadata: ["file": "x\r\ny", "list": .array(["\u{1B}"])])
        let all = records.lines.withLock { $0 }
        #expect(all.count == 1)
        let record = all.first ?? ""
        #expect(
            !record.contains("\n") && !record.contains("\r") && !record.contains("\u{1B}"), "\(record.debugDescription)"
        )
        #expect(record.contains("GET /healthz\\n2026-01-01T00:00:00+0000 critical pinleased: forged 404"))
        #expect(record.contains("file=x\\r\\ny"))
        #expect(record.contains("path=a\\nb"))
    }
}
