import PinJSON
import Testing

@testable import PinCore
@testable import PinWire

/// An operation's result is kept in the state database as the JSON the API shows, and shown
/// again from there after a restart: the text read back must encode to the text that was stored.
@Suite struct OperationResultJSONTests {
    static func report(reasons: [NotReadyReason] = []) -> LayoutReport {
        var bytes = LayoutBytes()
        (bytes.written, bytes.unwritten, bytes.hole, bytes.shared) = (8192, 4096, 4096, 4096)
        (bytes.delalloc, bytes.inline, bytes.encoded) = (0, 0, 4096)
        return LayoutReport(
            path: RootedPath(root: "data", relative: "dir/a.bin"), size: 16384, blockSize: 4096, fsType: "btrfs",
            mountPoint: "/srv/data", dax: false, immutable: true, locked: true, extentSource: "fiemap",
            extentCount: 3, holeCount: 1, bytes: bytes, reasons: reasons)
    }

    static let notReady = report(reasons: [
        NotReadyReason(code: "holes", detail: "1 hole, 4096 bytes", bytes: 4096),
        NotReadyReason(code: "realtime-device", detail: "the file lives on the XFS realtime device", bytes: nil),
    ])

    /// The API's form of a layout report, member for member and in this order (as before the move).
    @Test func aLayoutReportHasItsExactJSON() {
        let expected =
            #"{"path":"data:dir/a.bin","root":"data","relative_path":"dir/a.bin","size":16384,"block_size":4096,"#
            + #""fs_type":"btrfs","mount_point":"/srv/data","dax":false,"immutable":true,"locked":true,"#
            + #""extent_source":"fiemap","extents":3,"holes":1,"bytes":{"written":8192,"unwritten":4096,"#
            + #""hole":4096,"shared":4096,"delalloc":0,"inline":0,"encoded":4096},"ready":false,"reasons":["#
            + #"{"code":"holes","detail":"1 hole, 4096 bytes","bytes":4096},"#
            + #"{"code":"realtime-device","detail":"the file lives on the XFS realtime device"}]}"#
        #expect(JSONCodec.encode(Self.notReady.json) == expected)
        #expect(JSONCodec.encode(OperationResult.prepared(Self.notReady).json) == expected)
    }

    @Test(arguments: [report(), notReady])
    func aStoredPrepareResultReadsBackToTheSameText(report: LayoutReport) throws {
        let stored = JSONCodec.encode(OperationResult.prepared(report).json)
        let decoded = try #require(OperationResult(kind: "prepare", json: try JSONCodec.parse(stored)))
        #expect(decoded == .prepared(report))
        #expect(JSONCodec.encode(decoded.json) == stored)
    }

    /// What is not a prepare's result reads as none (the store then shows the operation without one).
    @Test func aDocumentThatIsNoResultOfItsKindReadsAsNone() throws {
        let good = try #require(Self.notReady.json.objectValue)
        var documents: [JSON] = [.object(["ready": .bool(true)]), .null, .array([]), .string("report")]
        let changes: [(String, JSON?)] = [
            ("path", .string("data:other.bin")), ("size", .int(-1)), ("extents", nil), ("ready", .bool(true)),
            ("bytes", .object(["written": .int(1)])), ("reasons", .array([.object(["code": .string("holes")])])),
            ("reasons", .array([.object(["code": .string("a"), "detail": .string("b"), "bytes": .string("1")])])),
            ("dax", .string("false")),
        ]
        for (key, value) in changes {
            var changed = good
            changed[key] = value
            documents.append(.object(changed))
        }
        for document in documents {
            #expect(OperationResult(kind: "prepare", json: document) == nil, "\(JSONCodec.encode(document))")
        }
        #expect(OperationResult(kind: "prepare", json: .object(good)) == .prepared(Self.notReady))
        #expect(OperationResult(kind: "shrink", json: .object(good)) == nil)
    }

    /// The not-ready problem carries the report and its reasons in the API's form of that report.
    @Test func theNotReadyProblemCarriesTheAPIFormOfTheReport() {
        let problem = Self.notReady.notReadyError(suggestion: "prepare it").problemJSON
        #expect(problem["report"] == Self.notReady.json)
        #expect(problem["reasons"] == Self.notReady.json.objectValue?["reasons"])
    }

    @Test func aLongTermModeIsShownAsItIsRequested() {
        #expect(LongTermMode.allCases.map { JSONCodec.encode($0.json) } == ["false", "true", #""if-possible""#])
    }
}
