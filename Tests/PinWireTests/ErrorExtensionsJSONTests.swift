import PinJSON
import PinWire
import Testing

@testable import PinCore

/// The typed extensions of a core error and their JSON form: the members of the problem
/// document after `type`, `title` and `detail`, in the order the error lists them.
@Suite struct ErrorExtensionsJSONTests {
    static let report = LayoutReport(
        path: RootedPath(root: "data", relative: "f.bin"), size: 8192, blockSize: 4096, fsType: "ext4",
        mountPoint: "/mnt/data", dax: false, immutable: false, locked: false, extentSource: "fiemap",
        extentCount: 2, holeCount: 1,
        bytes: {
            var bytes = LayoutBytes()
            (bytes.written, bytes.hole) = (4096, 4096)
            return bytes
        }(),
        reasons: [
            NotReadyReason(code: "holes", detail: "1 hole, 4096 bytes", bytes: 4096),
            NotReadyReason(code: "realtime-device", detail: "the file lives on the XFS realtime device", bytes: nil),
        ])

    static let violation = FileViolation(code: "size-changed", detail: "8192 -> 0", detectedAt: 1_700_000_000_123)

    @Test("members keep the order they were added in; replacing keeps the position, removing drops it")
    func membersKeepTheirOrder() {
        var extensions: ErrorExtensions = ["path": "data:a", "errno": "EIO", "call": "openat2"]
        extensions["size"] = 12
        extensions["errno"] = "ENOSPC"
        extensions["call"] = nil
        #expect(extensions.names == ["path", "errno", "size"])
        let body = JSONCodec.encode(.object(CoreError(.noSpace, "full", extensions: extensions).problemJSON))
        #expect(
            body == #"{"type":"https://pinlease.dev/problems/no-space","title":"\#(CoreErrorCode.noSpace.title)","#
                + #""detail":"full","path":"data:a","errno":"ENOSPC","size":12}"#)
    }

    @Test("each scalar and list kind has its JSON form")
    func scalarsAndLists() {
        let extensions: ErrorExtensions = [
            "text": .text("a\"b"), "integer": .integer(-7), "big": .integer(Int64.max), "flag": true,
            "texts": .texts(["x", "y"]), "integers": .integers([UInt32(1), 4_294_967_295]), "empty": [],
            "record": .record(["inner": 1, "list": ["z", false]]),
        ]
        #expect(
            JSONCodec.encode(.object(extensions.json))
                == #"{"text":"a\"b","integer":-7,"big":9223372036854775807,"flag":true,"texts":["x","y"],"#
                + #""integers":[1,4294967295],"empty":[],"record":{"inner":1,"list":["z",false]}}"#)
    }

    @Test("a layout report, its reasons and a violation take the forms the API shows them in")
    func domainValuesTakeTheirViewForm() throws {
        let problem = Self.report.notReadyError(suggestion: "prepare it first").problemJSON
        #expect(problem.keys == ["type", "title", "detail", "path", "reasons", "report"])
        #expect(problem["path"] == .string("data:f.bin"))
        #expect(problem["report"] == Self.report.json)
        #expect(problem["reasons"] == Self.report.json.objectValue?["reasons"])
        #expect(
            JSONCodec.encode(try #require(problem["reasons"]))
                == #"[{"code":"holes","detail":"1 hole, 4096 bytes","bytes":4096},"#
                + #"{"code":"realtime-device","detail":"the file lives on the XFS realtime device"}]"#)
        let violated = Pinner.violatedError(Self.violation, path: "data:f.bin").problemJSON
        #expect(violated["violation"] == Self.violation.json)
    }

    /// The state database keeps a failed operation's problem document and shows it again after
    /// a restart: reading it back must give the same bytes, for every kind of value.
    @Test("a problem document with every kind of value reads back to the same bytes")
    func everyKindRoundTrips() throws {
        let error = CoreError(
            .notReady, "data:f.bin is not ready",
            extensions: [
                "path": "data:f.bin", "links": 2, "ready": false, "pids": .integers([3, 4]),
                "record": .record(["nested": .record(["deep": ["a", 1, true]])]),
                "reasons": .notReadyReasons(Self.report.reasons), "report": .layoutReport(Self.report),
                "violation": .violation(Self.violation),
            ])
        let stored = JSONCodec.encode(.object(error.problemJSON))
        let document = try #require(try JSONCodec.parse(stored).objectValue)
        let decoded = try #require(CoreError(problemJSON: document))
        #expect(decoded.code == .notReady && decoded.detail == error.detail)
        #expect(decoded.extensions.names == error.extensions.names)
        #expect(JSONCodec.encode(.object(decoded.problemJSON)) == stored)
        // Scalars and lists come back as they were; domain values come back as their members.
        #expect(decoded.extensions["links"] == .integer(2) && decoded.extensions["ready"] == .boolean(false))
        #expect(decoded.extensions["pids"] == [3, 4])
        #expect(decoded.extensions["record"] == error.extensions["record"])
        guard case .record(let violation)? = decoded.extensions["violation"] else {
            Issue.record("the violation did not read back as a record")
            return
        }
        #expect(violation.names == ["code", "detail", "detected_at"])
    }

    @Test("values no core error carries (null, reals) are left out when a document is read back")
    func untypedValuesAreLeftOut() throws {
        let document = try #require(
            try JSONCodec.parse(
                #"{"type":"https://pinlease.dev/problems/busy","title":"t","detail":"d","#
                    + #""a":null,"b":1.5,"c":[1,null],"d":{"e":0.5},"f":"kept"}"#
            ).objectValue)
        let decoded = try #require(CoreError(problemJSON: document))
        #expect(decoded.extensions == ["f": "kept"])
    }
}
