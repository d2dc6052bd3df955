import PinCore
import PinJSON
import Testing

@testable import PinServer

/// `GET /v1/status` (admin) and `GET /v1/events/latest` (any token) on a real core, and the rule
/// that a lease grant's member sent as null is absent.
@Suite("Status routes")
struct StatusRoutesTests {
    @Test("a fresh daemon's status: every state present and 0, the budget of the pin list, no event")
    func freshStatus() throws {
        let fixture = try APIRoutesTests.Fixture()
        defer { fixture.close() }
        let response = fixture.send("GET", "/v1/status")
        #expect(response.status == 200)
        let status = try #require(response.jsonObject)
        #expect(status["files"] == ["locked": 0, "degraded": 0, "violated": 0])
        #expect(status["pins"] == ["active": 0, "failed": 0])
        #expect(status["leases"] == ["active": 0, "revoking": 0, "released": 0, "revoked": 0, "expired": 0])
        #expect(status["events"] == ["last_sequence": 0])
        #expect(status["budget"] == fixture.send("GET", "/v1/pins").jsonObject?["budget"])
        #expect(fixture.send("GET", "/v1/events/latest").jsonObject == ["last_sequence": 0])
    }

    @Test("status needs an admin token; the newest event's number any token")
    func access() throws {
        let fixture = try APIRoutesTests.Fixture()
        defer { fixture.close() }
        let holders = TokenStore(
            entries: [.init(token: Array("holder-token".utf8), principal: Principal(role: .holder, holder: "h"))],
            tokensFile: nil, adminTokenPath: nil, logger: .test)
        let dispatcher = RequestDispatcher(router: fixture.dispatcher.router, tokens: holders, logger: .test)
        func get(_ path: String, _ authorization: String?) -> Int {
            dispatcher.respond(to: HTTPRequest(method: "GET", path: path, authorization: authorization)).status
        }
        #expect(get("/v1/status", "Bearer holder-token") == 403)
        #expect(get("/v1/status", nil) == 401)
        #expect(get("/v1/events/latest", "Bearer holder-token") == 200)
        #expect(get("/v1/events/latest", nil) == 401)
    }

    static func grant(_ body: String) throws(Problem) -> LeaseTarget {
        try LeaseGrantBody.decode(NumberDecodingTests.request(body)).request.target
    }

    @Test(
        "a pin member sent as null beside pin_id is no pin member",
        arguments: [
            #"{"holder":"h","pin_id":"pin_a","path":null}"#,
            #"{"holder":"h","pin_id":"pin_a","path":null,"access":null,"offset":null,"length":null,"longterm":null}"#,
        ])
    func nullPinMembers(body: String) throws {
        guard case .pin(let id) = try Self.grant(body) else {
            Issue.record("not a lease on pin_a: \(body)")
            return
        }
        #expect(id == "pin_a")
    }

    @Test("pin_id sent as null is absent: the pin members name the pin")
    func nullPinID() throws {
        guard case .newPin(let pin) = try Self.grant(#"{"holder":"h","pin_id":null,"path":"a.bin","access":"read"}"#)
        else {
            Issue.record("not a new pin")
            return
        }
        #expect(pin.path == "a.bin" && pin.length == nil)
    }

    @Test(
        "null names neither a pin nor a path: refused, naming pin_id",
        arguments: [#"{"holder":"h","pin_id":null}"#, #"{"holder":"h","path":null}"#])
    func nothingGiven(body: String) throws {
        let problem = try #require(NumberDecodingTests.problem { () throws(Problem) in try Self.grant(body) })
        #expect(problem.code == "invalid-body" && problem.extensions["field"] == "pin_id")
    }
}
