/// Why a file is not ready for long-term pinning; `code` is stable, `detail` is for people.
public struct NotReadyReason: Sendable, Equatable {
    public let code: String
    public let detail: String
    public let bytes: UInt64?

    package init(code: String, detail: String, bytes: UInt64?) {
        self.code = code
        self.detail = detail
        self.bytes = bytes
    }
}

/// Bytes of the file by allocation state. `written + unwritten + hole + delalloc + inline`
/// equals the file size; `shared` and `encoded` count allocated bytes that are also shared
/// (reflinked) or encoded (compressed, encrypted).
public struct LayoutBytes: Sendable, Equatable {
    public var written: UInt64 = 0
    public var unwritten: UInt64 = 0
    public var hole: UInt64 = 0
    public var shared: UInt64 = 0
    public var delalloc: UInt64 = 0
    public var inline: UInt64 = 0
    public var encoded: UInt64 = 0

    package init() {}
}

/// What the kernel says about a file's layout, and whether it is ready: full size, every
/// byte in written, unshared, plain extents on the filesystem's main device (the kernel's
/// swapfile activation rules plus "no unwritten extents").
public struct LayoutReport: Sendable, Equatable {
    public let path: RootedPath
    public let size: UInt64
    public let blockSize: UInt64
    public let fsType: String
    public let mountPoint: String
    public let dax: Bool
    public let immutable: Bool
    public let locked: Bool
    /// `fiemap`, or `seek_data` where the filesystem has no FIEMAP (tmpfs).
    public let extentSource: String
    public let extentCount: Int
    public let holeCount: Int
    public let bytes: LayoutBytes
    public let reasons: [NotReadyReason]

    public var ready: Bool { reasons.isEmpty }

    package init(
        path: RootedPath, size: UInt64, blockSize: UInt64, fsType: String, mountPoint: String, dax: Bool,
        immutable: Bool, locked: Bool, extentSource: String, extentCount: Int, holeCount: Int, bytes: LayoutBytes,
        reasons: [NotReadyReason]
    ) {
        self.path = path
        self.size = size
        self.blockSize = blockSize
        self.fsType = fsType
        self.mountPoint = mountPoint
        self.dax = dax
        self.immutable = immutable
        self.locked = locked
        self.extentSource = extentSource
        self.extentCount = extentCount
        self.holeCount = holeCount
        self.bytes = bytes
        self.reasons = reasons
    }
}

extension LayoutReport {
    /// The `not-ready` error for this report: every reason, and the report itself.
    func notReadyError(suggestion: String) -> CoreError {
        CoreError(
            .notReady,
            "\(path.canonical) is not ready (" + reasons.map { "\($0.code): \($0.detail)" }.joined(separator: "; ")
                + "); \(suggestion)",
            extensions: [
                "path": .text(path.canonical), "reasons": .notReadyReasons(reasons), "report": .layoutReport(self),
            ])
    }
}
