import Logging
import PinJSON
import Testing

@testable import PinServer

/// `--log-format json` lines, request ids and the level of the access line.
@Suite("Structured logs")
struct StructuredLogTests {
    static let noon: (seconds: Int64, nanoseconds: Int64) = (1_796_212_800, 7_000_000)

    @Test("a JSON line has the standard members, metadata as members, numbers as numbers")
    func jsonLine() throws {
        let line = JSONLogHandler.line(
            timestamp: Self.noon, level: .info, label: "pinleased", message: "GET /v1/files 200",
            metadata: [
                "status": .stringConvertible(200), "duration_ms": .stringConvertible(1.1),
                "route": .string("/v1/files"), "ok": .stringConvertible(true), "message": .string("mine"),
            ])
        let object = try #require(try JSONCodec.parse(line).objectValue)
        #expect(object["timestamp"] == "2026-12-02T12:00:00.007Z")
        #expect(object["level"] == "info")
        #expect(object["logger"] == "pinleased")
        #expect(object["message"] == "GET /v1/files 200")
        #expect(object["message_"] == "mine")
        #expect(object["status"] == .int(200))
        #expect(object["ok"] == true)
        #expect(object["route"] == "/v1/files")
        #expect(line.contains(#""duration_ms":1.1,"#))
    }

    @Test("control and non-ASCII characters are escaped: one line, nothing a terminal acts on")
    func jsonEscaping() throws {
        let hostile = "a\nforged line\r\u{1B}[2J\u{9B}\u{2028}é\u{0}"
        let line = JSONLogHandler.line(
            timestamp: Self.noon, level: .warning, label: "pinleased", message: hostile,
            metadata: ["path": .string(hostile)])
        #expect(line.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
        let object = try #require(try JSONCodec.parse(line).objectValue)
        #expect(object["message"]?.stringValue == hostile)
        #expect(object["path"]?.stringValue == hostile)
    }

    @Test("a client's X-Request-Id is kept when short and visible ASCII, replaced otherwise")
    func requestIDs() {
        #expect(RequestLog(clientID: "abc-123_X.y:z").requestID == "abc-123_X.y:z")
        #expect(RequestLog(clientID: String(repeating: "a", count: 128)).requestID.count == 128)
        for insane in ["", "a b", "a\nb", "a\u{0}", "é", String(repeating: "a", count: 129)] {
            let id = RequestLog(clientID: insane).requestID
            #expect(id != insane)
            #expect(id.count == 32 && id.allSatisfy(\.isHexDigit))
        }
        #expect(RequestLog(clientID: nil).requestID != RequestLog(clientID: nil).requestID)
    }

    @Test("changes and failures are logged at info, routine traffic at debug")
    func accessLevel() {
        #expect(AccessLog.level(method: "POST", route: .string("/v1/leases"), status: 201) == .info)
        #expect(AccessLog.level(method: "DELETE", route: .string("/v1/pins/{id}"), status: 204) == .info)
        #expect(AccessLog.level(method: "GET", route: .string("/v1/files"), status: 401) == .info)
        #expect(AccessLog.level(method: "GET", route: .string("unmatched"), status: 404) == .info)
        #expect(AccessLog.level(method: "GET", route: .string("/readyz"), status: 200) == .debug)
        #expect(AccessLog.level(method: "HEAD", route: .string("/v1/events"), status: 200) == .debug)
        #expect(AccessLog.level(method: "POST", route: .string("/v1/leases/{id}/renew"), status: 200) == .debug)
        #expect(AccessLog.level(method: "POST", route: .string("/v1/leases/{id}/renew"), status: 409) == .info)
    }

    @Test("the dispatcher names the route template, the ids in the path and the problem")
    func dispatcherFields() {
        let tokens = TokenStore(
            entries: [.init(token: Array("admin-token".utf8), principal: Principal(role: .admin, holder: nil))],
            tokensFile: nil, adminTokenPath: nil, logger: .test)
        let dispatcher = RequestDispatcher(
            router: Router([Route("GET", "/v1/leases/{id}", access: .anonymous) { _ in .json(["ok": true]) }]),
            tokens: tokens, logger: .test)
        let found = HTTPRequest(method: "GET", path: "/v1/leases/lease_1", authorization: "Bearer admin-token")
        #expect(dispatcher.respond(to: found).status == 200)
        #expect(found.log.metadata["route"] == .string("/v1/leases/{id}"))
        #expect(found.log.metadata["lease_id"] == .string("lease_1"))
        let missing = HTTPRequest(method: "GET", path: "/v1/nothing")
        #expect(dispatcher.respond(to: missing).status == 401)
        #expect(missing.log.metadata["route"] == nil)
        #expect(missing.log.metadata["problem"] == .string("unauthorized"))
    }
}
