import Testing
@testable import PinServer

@Suite("Router")
struct RouterTests {
    static let router = Router([
        Route("GET", "/healthz", access: .anonymous) { _ in HTTPResponse(status: 200) },
        Route("POST", "/v1/files/inspect", access: .admin) { _ in HTTPResponse(status: 200) },
        Route("GET", "/v1/files", access: .admin) { _ in HTTPResponse(status: 200) },
        Route("GET", "/v1/operations/{id}", access: .admin) { _ in HTTPResponse(status: 200) },
        Route("DELETE", "/v1/operations/{id}", access: .admin) { _ in HTTPResponse(status: 200) },
    ])

    @Test("literal routes match their method")
    func literal() {
        guard case .found(let route, let parameters) = Self.router.match(method: "POST", path: "/v1/files/inspect") else {
            Issue.record("no match")
            return
        }
        #expect(route.pattern == "/v1/files/inspect")
        #expect(parameters.isEmpty)
    }

    @Test("parameters are captured")
    func parameters() {
        for method in ["GET", "DELETE"] {
            guard case .found(let route, let parameters) = Self.router.match(method: method, path: "/v1/operations/op_123") else {
                Issue.record("no match for \(method)")
                continue
            }
            #expect(route.method == method)
            #expect(parameters == ["id": "op_123"])
        }
    }

    @Test("unknown paths, extra segments, trailing slashes and empty parameters are not found",
          arguments: ["/", "/v1", "/v1/files/", "/v1/files/inspect/x", "/v1/operations/", "/v1/operations", "/v2/files", "/healthz/"])
    func notFound(path: String) {
        guard case .notFound = Self.router.match(method: "GET", path: path) else {
            Issue.record("\(path) matched")
            return
        }
    }

    @Test("a known path with another method is 405 with the allowed methods")
    func methodNotAllowed() {
        guard case .methodNotAllowed(let allowed) = Self.router.match(method: "GET", path: "/v1/files/inspect") else {
            Issue.record("expected 405")
            return
        }
        #expect(allowed == ["POST"])
        guard case .methodNotAllowed(let both) = Self.router.match(method: "PUT", path: "/v1/operations/abc") else {
            Issue.record("expected 405")
            return
        }
        #expect(both == ["GET", "HEAD", "DELETE"])
    }

    @Test("HEAD is served by GET routes")
    func head() {
        guard case .found(let route, _) = Self.router.match(method: "HEAD", path: "/v1/files") else {
            Issue.record("HEAD did not match")
            return
        }
        #expect(route.method == "GET")
    }

    @Test("the API's route table has no duplicate method and pattern")
    func noDuplicates() {
        let keys = Self.router.routes.map { "\($0.method) \($0.pattern)" }
        #expect(Set(keys).count == keys.count)
    }
}
