import Logging
import PinCore
import PinJSON
import Testing

@testable import PinServer

@Suite("Problem mapping")
struct ProblemMappingTests {
    /// The contract's table of core codes and their HTTP statuses.
    static let contract: [String: Int] = [
        "invalid-path": 422, "absolute-path": 422, "path-traversal": 422, "unknown-root": 422, "symlink-in-path": 422,
        "crosses-mount": 422, "is-a-directory": 422, "is-a-device": 422, "is-a-fifo": 422, "is-a-socket": 422,
        "not-found": 404, "invalid-size": 422, "size-required": 422, "would-truncate": 422,
        "unsupported-filesystem": 422,
        "not-ready": 409, "file-locked": 409, "file-immutable": 409, "writers-present": 409, "not-locked": 409,
        "file-changed": 409, "busy": 409, "read-only-filesystem": 409, "no-space": 507, "state-full": 507,
        "missing-capability": 500,
        "operation-not-found": 404, "cancelled": 409, "system-error": 500,
        "lock-degraded": 409, "unaligned-range": 422, "invalid-range": 422, "write-needs-daemon-writers": 409,
        "writes-refused-by-filesystem": 409, "longterm-refused": 422, "pin-budget-exceeded": 507,
        "memory-lock-failed": 507,
        "pin-not-found": 404, "pin-in-use": 409, "pins-exist": 409,
        "pin-not-active": 409, "lease-not-found": 404, "lease-not-active": 409, "delivery-not-found": 404,
        "invalid-ttl": 422, "invalid-grace": 422,
        "invalid-webhook-url": 422, "webhook-not-allowed": 422, "file-violated": 409, "peer-not-allowed": 403,
        "invalid-holder": 422, "draining": 503,
        "hard-linked": 409, "events-expired": 410,
    ]

    @Test("every core error code has the contract's status", arguments: CoreErrorCode.allCases)
    func coreCodeStatus(code: CoreErrorCode) {
        let status = ProblemMapping.status(for: code)
        #expect(Self.contract[code.rawValue] == status, "\(code.rawValue) -> \(status)")
        #expect((400...599).contains(status))
    }

    @Test("the contract table has no codes the core lacks")
    func contractMatchesCore() {
        #expect(Set(Self.contract.keys) == Set(CoreErrorCode.allCases.map(\.rawValue)))
    }

    @Test("server codes map to their statuses")
    func serverCodes() {
        let expected: [ServerProblemCode: Int] = [
            .invalidJSON: 400, .invalidRequest: 400, .invalidBody: 422, .invalidQuery: 422, .bodyTooLarge: 413,
            .unauthorized: 401, .forbidden: 403,
            .notFoundRoute: 404, .methodNotAllowed: 405, .unsupportedMediaType: 415, .daemonNotReady: 503,
            .shuttingDown: 503,
        ]
        for code in ServerProblemCode.allCases {
            #expect(ProblemMapping.status(for: code) == expected[code], "\(code.rawValue)")
            #expect(!code.title.isEmpty)
        }
        let serverSlugs = Set(ServerProblemCode.allCases.map(\.rawValue))
        #expect(serverSlugs.isDisjoint(with: CoreErrorCode.allCases.map(\.rawValue)))
    }

    @Test("a core error becomes a problem document with its extensions")
    func coreErrorDocument() throws {
        let error = CoreError(
            .writersPresent, "a.bin is open for writing by pids 12", extensions: ["path": "data:a.bin", "pids": [12]])
        let problem = ProblemMapping.problem(for: error, logger: .test)
        let response = HTTPResponse.problem(problem)
        #expect(response.status == 409)
        #expect(response.header("content-type") == "application/problem+json")
        let body = try #require(try JSONCodec.parse(response.body).objectValue)
        #expect(body.keys == ["type", "title", "status", "detail", "path", "pids"])
        #expect(body["type"] == "https://pinlease.dev/problems/writers-present")
        #expect(body["title"] == .string(CoreErrorCode.writersPresent.title))
        #expect(body["status"] == 409)
        #expect(body["detail"] == "a.bin is open for writing by pids 12")
        #expect(body["pids"] == [12])
    }

    @Test("extensions cannot replace the standard members")
    func extensionsDoNotOverride() throws {
        let problem = Problem(.invalidBody, "bad", extensions: ["status": 200, "type": "x", "field": "path"])
        let body = try #require(problem.json.objectValue)
        #expect(body["status"] == 422)
        #expect(body["type"] == "https://pinlease.dev/problems/invalid-body")
        #expect(body["field"] == "path")
    }

    @Test("an unexpected error is a 500 that does not reveal it")
    func unexpectedError() throws {
        struct SecretFailure: Error { let secret = "token=abc" }
        let problem = ProblemMapping.problem(for: SecretFailure(), logger: .test)
        #expect(problem.status == 500)
        #expect(problem.code == "system-error")
        #expect(!JSONCodec.encode(problem.json).contains("abc"))
        #expect(!JSONCodec.encode(problem.json).contains("SecretFailure"))
    }
}
