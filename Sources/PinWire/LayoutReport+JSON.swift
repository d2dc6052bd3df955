import PinCore
import PinJSON

/// The JSON form of ``LayoutReport``: the answer of inspect and of a synchronous prepare, the
/// `result` of a prepare operation, and what the state database keeps of that result.
extension LayoutReport: JSONRepresentable {
    public var json: JSON {
        .object([
            "path": .string(path.canonical),
            "root": .string(path.root),
            "relative_path": .string(path.relative),
            "size": .int(Int64(size)),
            "block_size": .int(Int64(blockSize)),
            "fs_type": .string(fsType),
            "mount_point": .string(mountPoint),
            "dax": .bool(dax),
            "immutable": .bool(immutable),
            "locked": .bool(locked),
            "extent_source": .string(extentSource),
            "extents": .int(Int64(extentCount)),
            "holes": .int(Int64(holeCount)),
            "bytes": .object([
                "written": .int(Int64(bytes.written)),
                "unwritten": .int(Int64(bytes.unwritten)),
                "hole": .int(Int64(bytes.hole)),
                "shared": .int(Int64(bytes.shared)),
                "delalloc": .int(Int64(bytes.delalloc)),
                "inline": .int(Int64(bytes.inline)),
                "encoded": .int(Int64(bytes.encoded)),
            ]),
            "ready": .bool(ready),
            "reasons": .array(reasons.map(\.json)),
        ])
    }

    /// The report a stored ``json`` describes, or `nil` when it is not one. Strict, so that a
    /// report read back encodes to the very text that was stored: every member must be there with
    /// its type, `path` must be `root:relative_path` and `ready` must say whether `reasons` is empty.
    package init?(json: JSON) {
        guard let object = json.objectValue,
            let root = object["root"]?.stringValue, let relative = object["relative_path"]?.stringValue,
            object["path"]?.stringValue == RootedPath(root: root, relative: relative).canonical,
            let size = object["size"].flatMap(Self.unsigned),
            let blockSize = object["block_size"].flatMap(Self.unsigned),
            let fsType = object["fs_type"]?.stringValue, let mountPoint = object["mount_point"]?.stringValue,
            let dax = object["dax"]?.boolValue, let immutable = object["immutable"]?.boolValue,
            let locked = object["locked"]?.boolValue, let extentSource = object["extent_source"]?.stringValue,
            let extentCount = object["extents"]?.int64Value.flatMap({ Int(exactly: $0) }),
            let holeCount = object["holes"]?.int64Value.flatMap({ Int(exactly: $0) }),
            let bytes = object["bytes"].flatMap(LayoutBytes.init(json:)),
            let reasonList = object["reasons"]?.arrayValue, let ready = object["ready"]?.boolValue
        else { return nil }
        let reasons = reasonList.compactMap(NotReadyReason.init(json:))
        guard reasons.count == reasonList.count, ready == reasons.isEmpty else { return nil }
        self.init(
            path: RootedPath(root: root, relative: relative), size: size, blockSize: blockSize, fsType: fsType,
            mountPoint: mountPoint, dax: dax, immutable: immutable, locked: locked, extentSource: extentSource,
            extentCount: extentCount, holeCount: holeCount, bytes: bytes, reasons: reasons)
    }

    fileprivate static func unsigned(_ json: JSON) -> UInt64? { json.int64Value.flatMap { UInt64(exactly: $0) } }
}

extension LayoutBytes {
    /// The byte counts a stored report's `bytes` member describes, or `nil` when one is missing.
    fileprivate init?(json: JSON) {
        guard let object = json.objectValue else { return nil }
        func count(_ key: String) -> UInt64? { object[key].flatMap(LayoutReport.unsigned) }
        guard let written = count("written"), let unwritten = count("unwritten"), let hole = count("hole"),
            let shared = count("shared"), let delalloc = count("delalloc"), let inline = count("inline"),
            let encoded = count("encoded")
        else { return nil }
        self.init()
        (self.written, self.unwritten, self.hole, self.shared) = (written, unwritten, hole, shared)
        (self.delalloc, self.inline, self.encoded) = (delalloc, inline, encoded)
    }
}

/// The JSON form of ``NotReadyReason``: `{"code","detail","bytes"?}`.
extension NotReadyReason: JSONRepresentable {
    public var json: JSON {
        var object: JSONObject = ["code": .string(code), "detail": .string(detail)]
        if let bytes { object["bytes"] = .int(Int64(bytes)) }
        return .object(object)
    }

    /// The reason a stored ``json`` describes, or `nil` when it is not one.
    fileprivate init?(json: JSON) {
        guard let object = json.objectValue, let code = object["code"]?.stringValue,
            let detail = object["detail"]?.stringValue
        else { return nil }
        let bytes = object["bytes"].flatMap(LayoutReport.unsigned)
        if object["bytes"] != nil && bytes == nil { return nil }
        self.init(code: code, detail: detail, bytes: bytes)
    }
}
