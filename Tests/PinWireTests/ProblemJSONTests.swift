import PinCore
import PinJSON
import PinWire
import Testing

/// The problem form of a core error: how a failed operation shows it and how the state database keeps it.
@Suite struct ProblemJSONTests {
    @Test func problemBodyCarriesTypeTitleAndExtensions() {
        let problem = CoreError(.writersPresent, "busy", extensions: ["pids": [1, 2]]).problemJSON
        #expect(problem["type"] == .string("https://pinlease.dev/problems/writers-present"))
        #expect(problem["title"] == .string(CoreErrorCode.writersPresent.title))
        #expect(problem["pids"] == .array([.int(1), .int(2)]))
    }

    /// An operation's error is stored as its problem document and read back: the document
    /// shown after a restart must be the same bytes.
    @Test func aStoredProblemReadsBackToTheSameDocument() throws {
        let error = CoreError(
            .noSpace, "data:f: no space", extensions: ["path": "data:f", "errno": "ENOSPC", "pids": [3]])
        let stored = JSONCodec.encode(.object(error.problemJSON))
        let parsed = try #require(try JSONCodec.parse(stored).objectValue)
        let decoded = try #require(CoreError(problemJSON: parsed))
        #expect(decoded.code == .noSpace && decoded.detail == error.detail)
        #expect(JSONCodec.encode(.object(decoded.problemJSON)) == stored)
        #expect(CoreError(problemJSON: ["type": "https://pinlease.dev/problems/no-such-code", "detail": "x"]) == nil)
    }
}
