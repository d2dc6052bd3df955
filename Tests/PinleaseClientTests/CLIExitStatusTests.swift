import PinJSON
import PinleaseClient
import Testing

@Suite("Exit codes")
struct ExitStatusTests {
    @Test("HTTP statuses map to the documented codes")
    func httpStatuses() {
        let expected: [(Int, Int32)] = [
            (200, 0), (201, 0), (204, 0), (400, 1), (401, 5), (403, 5), (404, 3), (409, 4),
            (410, 1), (422, 1), (500, 1), (503, 1), (507, 6),
        ]
        for (status, code) in expected {
            #expect(CLIExitStatus.forHTTPStatus(status).rawValue == code, "HTTP \(status)")
        }
    }

    @Test("a problem without a status maps by its type")
    func problemTypes() {
        func code(_ slug: String) -> CLIExitStatus {
            CLIExitStatus.forProblem(
                Problem(["type": .string("https://pinlease.dev/problems/" + slug), "title": "t", "detail": "d"]))
        }
        #expect(code("no-space") == .noSpace)
        #expect(code("pin-budget-exceeded") == .noSpace)
        #expect(code("busy") == .conflict)
        #expect(code("lease-not-found") == .notFound)
        #expect(code("system-error") == .other)
    }

    @Test("an error answer becomes its problem's one line and exit code")
    func problemAnswer() {
        let body =
            #"{"type":"https://pinlease.dev/problems/not-locked","title":"File is not locked","status":409,"#
            + #""detail":"a.bin\nis not"}"#
        let response = HTTPResponse(status: 409, headers: [], body: Array(body.utf8))
        #expect(response.error.exitStatus == .conflict)
        #expect(response.error.message == "File is not locked: a.bin is not")
        #expect(response.error.problem?.code == "not-locked")
        let plain = HTTPResponse(status: 502, headers: [], body: Array("bad gateway\nmore".utf8))
        #expect(plain.error.message == "HTTP 502: bad gateway")
        #expect(plain.error.exitStatus == .other)
    }

    @Test("the summary names every code")
    func summary() {
        for code in [
            "0 ok", "1 other", "2 usage", "3 not found", "4 conflict", "5 unauthorized", "6 no space",
            "7 daemon unreachable",
        ] {
            #expect(CLIExitStatus.summary.contains(code), "\(code)")
        }
    }
}
