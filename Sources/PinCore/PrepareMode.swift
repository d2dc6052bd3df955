/// `fill` makes the layout ready without changing a byte that held data; `wipe` also zeroes every byte.
public enum PrepareMode: String, Sendable, CaseIterable {
    case fill, wipe
}

/// What a caller asks `prepare` to do. A nil `size` keeps the file's current size.
public struct PrepareRequest: Sendable {
    public var path: String
    public var size: UInt64?
    public var mode: PrepareMode
    public var create: Bool

    public init(path: String, size: UInt64? = nil, mode: PrepareMode = .fill, create: Bool = false) {
        self.path = path
        self.size = size
        self.mode = mode
        self.create = create
    }
}
