import Glibc
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
        #expect(!record.contains("\n") && !record.contains("\r") && !record.contains("\u{1B}"), "\(record.debugDescription)")
        #expect(record.contains("GET /healthz\\n2026-01-01T00:00:00+0000 critical pinleased: forged 404"))
        #expect(record.contains("file=x\\r\\ny"))
        #expect(record.contains("path=a\\nb"))
    }
}

@Suite("Request target")
struct RequestTargetTests {
    @Test("control characters, raw or percent-encoded, are found in the path or the query")
    func controlCharacters() {
        #expect(RequestTarget.controlCharacter(in: "/v1/pins/pin_abc") == nil)
        #expect(RequestTarget.controlCharacter(in: "/v1/leases?holder=h%20one&state=active") == nil)
        #expect(RequestTarget.controlCharacter(in: "/v1/files/%E2%9C%93%7e") == nil)
        #expect(RequestTarget.controlCharacter(in: "/a%2") == nil)
        #expect(RequestTarget.controlCharacter(in: "/a%") == nil)
        #expect(RequestTarget.controlCharacter(in: "/v1/pins/pin_%00abc") == .path)
        #expect(RequestTarget.controlCharacter(in: "/healthz%0Aforged") == .path)
        #expect(RequestTarget.controlCharacter(in: "/x%0d") == .path)
        #expect(RequestTarget.controlCharacter(in: "/x%1B") == .path)
        #expect(RequestTarget.controlCharacter(in: "/x%7F") == .path)
        #expect(RequestTarget.controlCharacter(in: "/x\u{1}") == .path)
        #expect(RequestTarget.controlCharacter(in: "/v1/leases?holder=a%00b") == .query)
        #expect(RequestTarget.controlCharacter(in: "/v1/leases?holder=a%0A") == .query)
    }
}

@Suite("Connection limits and the receive watchdog")
struct ReceiveWatchdogTests {
    @Test("automatic limits follow the descriptor limit, with a floor and a ceiling")
    func automaticLimits() {
        #expect(ConnectionLimits.automatic(descriptors: 1024) == (tcp: 64, unix: 64))
        #expect(ConnectionLimits.automatic(descriptors: 20_000) == (tcp: 10_000, unix: 1024))
        #expect(ConnectionLimits.automatic(descriptors: 8192) == (tcp: 3072, unix: 512))
        #expect(ConnectionLimits.automatic(descriptors: 1 << 20) == (tcp: 10_000, unix: 1024))
    }

    @Test("a sweep shuts down only connections past their deadline; a received request stops the clock")
    func sweepShutsDownOverdueOnly() throws {
        let watchdog = ReceiveWatchdog(receiveLimitSeconds: 0.001, idleLimitSeconds: 0, logger: .test)
        var overdue: [Int32] = [0, 0]
        var received: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &overdue) == 0)
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &received) == 0)
        defer { for fd in overdue + received { close(fd) } }
        let slow = watchdog.connectionStarted(fd: overdue[0])
        let done = watchdog.connectionStarted(fd: received[0])
        watchdog.requestReceived(done)
        // The deadline (1 ms after the start) has passed once the clock moved past it.
        let start = MonotonicClock.nanoseconds()
        while MonotonicClock.nanoseconds() < start + 2_000_000 { usleep(1000) }
        #expect(watchdog.sweep() == 1)
        var byte: UInt8 = 0
        #expect(read(overdue[1], &byte, 1) == 0, "the overdue connection's peer sees the end of the stream")
        #expect(recv(received[1], &byte, 1, Int32(MSG_DONTWAIT)) == -1 && errno == EAGAIN, "the other connection stays open")
        watchdog.connectionClosed(slow)
        watchdog.connectionClosed(done)
        #expect(watchdog.connectionCount == 0)
    }
}
