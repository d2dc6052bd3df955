import Glibc
import Logging
import PinCore
import PinJSON
import Testing
@testable import PinServer

/// The real v1 route table on a real core over a temporary root.
@Suite("API routes")
struct APIRoutesTests {
    struct Fixture: Sendable {
        let dispatcher: RequestDispatcher
        let adminToken: String
    }

    static let fixture: Fixture? = {
        let directory = TemporaryDirectory()
        mkdir(directory.file("data"), 0o755)
        mkdir(directory.file("state"), 0o700)
        guard let root = try? RootSpec.parse(directory.file("data")),
              let core = try? PinCoreService(configuration: CoreConfiguration(roots: [root], stateDirectory: directory.file("state")), logger: .test),
              let tokens = try? TokenStore.load(tokensFile: nil, stateDirectory: directory.file("state"), logger: .test),
              let token = directory.read("state/admin.token")?.trimmingWhitespace
        else { return nil }
        return Fixture(dispatcher: RequestDispatcher(core: core, tokens: tokens, logger: .test), adminToken: token)
    }()

    static let adminRoutes = [
        ("POST", "/v1/files/inspect"), ("POST", "/v1/files/prepare"), ("POST", "/v1/files/lock-immutable"),
        ("POST", "/v1/files/unlock"), ("GET", "/v1/files"), ("GET", "/v1/operations/abc"), ("DELETE", "/v1/operations/abc"),
    ]

    @Test("every files and operations route needs a token", arguments: adminRoutes)
    func needsToken(method: String, path: String) throws {
        let fixture = try #require(Self.fixture)
        #expect(fixture.dispatcher.respond(to: HTTPRequest(method: method, path: path)).status == 401)
    }

    @Test("holder tokens are forbidden on every files and operations route", arguments: adminRoutes)
    func holderForbidden(method: String, path: String) throws {
        let fixture = try #require(Self.fixture)
        let holders = TokenStore(entries: [.init(token: Array("holder-token".utf8), principal: Principal(role: .holder, holder: "h"))],
                                 tokensFile: nil, adminTokenPath: nil, logger: .test)
        let dispatcher = RequestDispatcher(router: fixture.dispatcher.router, tokens: holders, logger: .test)
        #expect(dispatcher.respond(to: HTTPRequest(method: method, path: path, authorization: "Bearer holder-token")).status == 403)
    }

    @Test("health and readiness answer without a token")
    func health() throws {
        let fixture = try #require(Self.fixture)
        let health = fixture.dispatcher.respond(to: HTTPRequest(method: "GET", path: "/healthz"))
        #expect(health.status == 200)
        #expect(health.jsonObject == ["status": "ok"])
        let ready = fixture.dispatcher.respond(to: HTTPRequest(method: "GET", path: "/readyz"))
        #expect(ready.status == 200)
        #expect(ready.jsonObject == ["status": "ready"])
    }

    @Test("the file list is an items array")
    func list() throws {
        let fixture = try #require(Self.fixture)
        let response = fixture.dispatcher.respond(to: HTTPRequest(method: "GET", path: "/v1/files", authorization: "Bearer \(fixture.adminToken)"))
        #expect(response.status == 200)
        #expect(response.jsonObject?["items"]?.arrayValue != nil)
    }

    @Test("an unknown operation is 404 operation-not-found")
    func unknownOperation() throws {
        let fixture = try #require(Self.fixture)
        let response = fixture.dispatcher.respond(to: HTTPRequest(method: "GET", path: "/v1/operations/nope", authorization: "Bearer \(fixture.adminToken)"))
        #expect(response.status == 404)
        #expect(response.jsonObject?["type"] == "https://pinlease.dev/problems/operation-not-found")
    }

    @Test("body problems come before the core is called")
    func bodyChecked() throws {
        let fixture = try #require(Self.fixture)
        let request = HTTPRequest(method: "POST", path: "/v1/files/prepare", contentType: "application/json",
                                  authorization: "Bearer \(fixture.adminToken)", body: Array(#"{"path":"a","size":"64MiB","zap":1}"#.utf8))
        let response = fixture.dispatcher.respond(to: request)
        #expect(response.status == 422)
        #expect(response.jsonObject?["field"] == "zap")
    }
}
