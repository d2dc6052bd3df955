import Logging
import PinCore
import PinJSON
import Testing

@testable import PinServer

@Suite("Request dispatcher")
struct RequestDispatcherTests {
    struct Boom: Error {}

    static let tokens = TokenStore(
        entries: [
            .init(token: Array("admin-token-value".utf8), principal: Principal(role: .admin, holder: nil)),
            .init(token: Array("holder-token-value".utf8), principal: Principal(role: .holder, holder: "h1")),
        ],
        tokensFile: nil, adminTokenPath: nil, logger: .test)

    static let dispatcher = RequestDispatcher(
        router: Router([
            Route("GET", "/healthz", access: .anonymous) { _ in .json(["status": "ok"]) },
            Route("GET", "/v1/things/{id}", access: .admin) { request in
                .json(["id": .string(request.parameters["id"] ?? "")])
            },
            Route("POST", "/v1/core-error", access: .admin) { _ in
                throw CoreError(.busy, "busy now", extensions: ["path": "data:a"])
            },
            Route("POST", "/v1/boom", access: .admin) { _ in throw Boom() },
        ]),
        tokens: tokens, logger: .test)

    static func send(_ method: String, _ path: String, token: String? = nil) -> HTTPResponse {
        dispatcher.respond(to: HTTPRequest(method: method, path: path, authorization: token.map { "Bearer \($0)" }))
    }

    @Test("health needs no token")
    func anonymous() {
        let response = Self.send("GET", "/healthz")
        #expect(response.status == 200)
        #expect(response.jsonObject == ["status": "ok"])
    }

    @Test(
        "v1 without or with a bad token is 401 with a Bearer challenge, even for unknown paths",
        arguments: [(nil, "/v1/things/1"), ("wrong", "/v1/things/1"), (nil, "/v1/unknown"), ("wrong", "/v1")])
    func unauthorized(token: String?, path: String) {
        let response = Self.send("GET", path, token: token)
        #expect(response.status == 401)
        #expect(response.header("WWW-Authenticate") == #"Bearer realm="pinlease""#)
        #expect(response.header("Content-Type") == "application/problem+json")
        #expect(response.jsonObject?["type"] == "https://pinlease.dev/problems/unauthorized")
    }

    @Test("a holder token is 403 on admin routes")
    func forbidden() {
        let response = Self.send("GET", "/v1/things/1", token: "holder-token-value")
        #expect(response.status == 403)
        #expect(response.jsonObject?["type"] == "https://pinlease.dev/problems/forbidden")
    }

    @Test("an admin token reaches the handler with its parameters")
    func admin() {
        let response = Self.send("GET", "/v1/things/42", token: "admin-token-value")
        #expect(response.status == 200)
        #expect(response.jsonObject == ["id": "42"])
    }

    @Test("unknown paths are 404 and wrong methods 405 with Allow")
    func routing() {
        let missing = Self.send("GET", "/v1/nothing", token: "admin-token-value")
        #expect(missing.status == 404)
        #expect(missing.jsonObject?["type"] == "https://pinlease.dev/problems/not-found-route")
        let anonymousMissing = Self.send("GET", "/metrics-nope")
        #expect(anonymousMissing.status == 404)
        let wrongMethod = Self.send("DELETE", "/v1/things/1", token: "admin-token-value")
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.header("Allow") == "GET, HEAD")
    }

    @Test("a core error is mapped with its extensions")
    func coreError() {
        let response = Self.send("POST", "/v1/core-error", token: "admin-token-value")
        #expect(response.status == 409)
        #expect(response.jsonObject?["type"] == "https://pinlease.dev/problems/busy")
        #expect(response.jsonObject?["path"] == "data:a")
    }

    @Test("any other error is a 500 system-error")
    func otherError() {
        let response = Self.send("POST", "/v1/boom", token: "admin-token-value")
        #expect(response.status == 500)
        #expect(response.jsonObject?["type"] == "https://pinlease.dev/problems/system-error")
    }
}
