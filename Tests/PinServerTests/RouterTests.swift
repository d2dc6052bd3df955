import Foundation
import Glibc
import Logging
import PinAssembly
import PinCore
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
        guard case .found(let route, let parameters) = Self.router.match(method: "POST", path: "/v1/files/inspect")
        else {
            Issue.record("no match")
            return
        }
        #expect(route.pattern == "/v1/files/inspect")
        #expect(parameters.isEmpty)
    }

    @Test("parameters are captured")
    func parameters() {
        for method in ["GET", "DELETE"] {
            guard
                case .found(let route, let parameters) = Self.router.match(
                    method: method, path: "/v1/operations/op_123")
            else {
                Issue.record("no match for \(method)")
                continue
            }
            #expect(route.method == method)
            #expect(parameters == ["id": "op_123"])
        }
    }

    @Test(
        "unknown paths, extra segments, trailing slashes and empty parameters are not found",
        arguments: [
            "/", "/v1", "/v1/files/", "/v1/files/inspect/x", "/v1/operations/", "/v1/operations", "/v2/files",
            "/healthz/",
        ])
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

    @Test("the route checker finds overlapping patterns and only those")
    func overlapCheckCanFail() {
        #expect(APIRouteTable.overlap("GET", "/v1/leases/{id}", "GET", "/v1/leases/mine"))
        #expect(APIRouteTable.overlap("GET", "/v1/pins/{id}", "GET", "/v1/pins/{pin}"))
        #expect(APIRouteTable.overlap("GET", "/v1/files", "HEAD", "/v1/files"))
        #expect(APIRouteTable.overlap("POST", "/v1/{kind}/{id}/renew", "POST", "/v1/leases/{id}/{action}"))
        #expect(!APIRouteTable.overlap("POST", "/v1/leases/{id}/renew", "POST", "/v1/leases/{id}/release"))
        #expect(!APIRouteTable.overlap("GET", "/v1/leases/{id}", "DELETE", "/v1/leases/{id}"))
        #expect(!APIRouteTable.overlap("GET", "/v1/leases/{id}", "GET", "/v1/leases/{id}/deliveries"))
        let spec = APIRouteTable.specOperations(
            """
            openapi: 3.1.0
            paths:
              /healthz:
                get:
                  summary: x
              /v1/pins/{id}:
                parameters:
                  - name: id
                get:
                  responses: {}
                delete:
                  responses: {}
            components:
              schemas:
                Pin:
                  get: not an operation
            """)
        #expect(spec == ["GET /healthz", "GET /v1/pins/{}", "DELETE /v1/pins/{}"])
    }

    @Test("the API's route table has no two routes that match one request")
    func noDuplicates() throws {
        let routes = try APIRouteTable.served()
        #expect(routes.count >= 20, "the whole v1 API is served")
        var overlapping: [String] = []
        for (index, route) in routes.enumerated() {
            for other in routes[(index + 1)...]
            where APIRouteTable.overlap(route.method, route.pattern, other.method, other.pattern) {
                overlapping.append("\(route.method) \(route.pattern) and \(other.method) \(other.pattern)")
            }
        }
        #expect(overlapping.isEmpty, "routes that match the same request: \(overlapping)")
        // Every route is reached by a request made for it (a parameter filled with a value no
        // literal segment has), and by no other route.
        let router = Router(routes)
        for route in routes {
            let path = route.pattern.replacing(/\{[^}]*\}/, with: "x_probe")
            guard case .found(let matched, _) = router.match(method: route.method, path: path) else {
                Issue.record("\(route.method) \(path) does not reach \(route.pattern)")
                continue
            }
            #expect(
                matched.pattern == route.pattern && matched.method == route.method,
                "\(route.method) \(path) reached \(matched.pattern)")
        }
    }

    @Test("every served route is in openapi/pinlease.yaml and every operation there is served")
    func servedRoutesMatchTheSpec() throws {
        let served = Set(try APIRouteTable.served().map { APIRouteTable.operation($0.method, $0.pattern) })
        let specText = try String(contentsOfFile: APIRouteTable.specPath, encoding: .utf8)
        let described = APIRouteTable.specOperations(specText)
        #expect(described.contains("GET /healthz"), "the spec's paths were read")
        #expect(served.subtracting(described).sorted() == [], "served but not in the spec")
        #expect(described.subtracting(served).sorted() == [], "in the spec but not served")
    }
}

/// The route table the daemon serves, and the operations openapi/pinlease.yaml describes.
enum APIRouteTable {
    /// Every route of `RequestDispatcher(core:tokens:logger:)`, the dispatcher `pinleased`
    /// serves, on a throwaway core (stopped and removed again).
    static func served() throws -> [Route] {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        mkdir(directory.file("data"), 0o755)
        mkdir(directory.file("state"), 0o700)
        let core = try PinCoreService(
            configuration: CoreConfiguration(
                roots: [RootSpec(name: "data", path: directory.file("data"))], stateDirectory: directory.file("state")),
            logger: .test)
        defer { core.shutdown() }
        let tokens = TokenStore(entries: [], tokensFile: nil, adminTokenPath: nil, logger: .test)
        return RequestDispatcher(core: core, tokens: tokens, logger: .test).router.routes
    }

    static let specPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("openapi/pinlease.yaml").path

    /// "METHOD /path/{}": parameter names do not change what a route matches.
    static func operation(_ method: String, _ pattern: String) -> String {
        "\(method) \(pattern.replacing(/\{[^}]*\}/, with: "{}"))"
    }

    /// Whether one request could match both routes (HEAD is served by GET): the same number of
    /// segments, and at each position equal literals or a parameter on either side.
    static func overlap(_ method: String, _ pattern: String, _ otherMethod: String, _ otherPattern: String) -> Bool {
        func effective(_ method: String) -> String { method == "HEAD" ? "GET" : method }
        guard effective(method) == effective(otherMethod) else { return false }
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: false)
        let others = otherPattern.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == others.count else { return false }
        return zip(segments, others).allSatisfy { segment, other in
            segment == other || segment.hasPrefix("{") || other.hasPrefix("{")
        }
    }

    /// The "METHOD /path" operations under `paths:` of an OpenAPI document, read line by line
    /// (path keys at two spaces, operations at four).
    static func specOperations(_ text: String) -> Set<String> {
        let methods: Set<Substring> = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        var operations = Set<String>()
        var inPaths = false
        var path: String?
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.prefix { $0 != "#" }.reversed().drop { $0 == " " }.reversed()
            let text = String(line)
            if text.isEmpty { continue }
            if !text.hasPrefix(" ") {
                inPaths = text == "paths:"
                path = nil
            } else if inPaths, text.hasPrefix("  "), !text.hasPrefix("   ") {
                path =
                    text.hasSuffix(":")
                    ? String(text.dropFirst(2).dropLast()).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                    : nil
            } else if inPaths, let path, text.hasPrefix("    "), !text.hasPrefix("     "), text.hasSuffix(":"),
                methods.contains(text.dropFirst(4).dropLast())
            {
                operations.insert(operation(text.dropFirst(4).dropLast().uppercased(), path))
            }
        }
        return operations
    }
}
