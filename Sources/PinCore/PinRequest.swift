/// What a pin lets its users do with the pinned range.
public enum PinAccess: String, Sendable, CaseIterable {
    case read
    case write
}

/// Whether a pin also takes a real long-term pin (io_uring fixed-buffer registration).
public enum LongTermMode: String, Sendable, CaseIterable {
    /// No long-term pin: mapped, faulted in and mlocked only.
    case no = "false"
    /// A long-term pin or an error that says why the kernel refused it.
    case required = "true"
    /// A long-term pin where the kernel allows it; otherwise the pin is made without it.
    case ifPossible = "if-possible"
}

/// A request to pin a range of a locked file (`POST /v1/pins`).
public struct PinRequest: Sendable {
    public var path: String
    public var offset: UInt64?
    /// `nil`: to the end of the file.
    public var length: UInt64?
    public var access: PinAccess
    public var longTerm: LongTermMode

    public init(
        path: String, offset: UInt64? = nil, length: UInt64? = nil, access: PinAccess, longTerm: LongTermMode = .no
    ) {
        self.path = path
        self.offset = offset
        self.length = length
        self.access = access
        self.longTerm = longTerm
    }
}

/// A pin as recorded durably: enough to re-create it after a restart.
package struct PinRecord: Sendable, Equatable {
    package var id: String
    package var path: RootedPath
    package var file: FileID
    package var offset: UInt64
    package var length: UInt64
    package var access: PinAccess
    package var longTerm: LongTermMode
    /// Created for a lease, and torn down with its last lease.
    package var autoPin: Bool
    package var createdAt: String

    package init(
        id: String, path: RootedPath, file: FileID, offset: UInt64, length: UInt64, access: PinAccess,
        longTerm: LongTermMode, autoPin: Bool, createdAt: String
    ) {
        self.id = id
        self.path = path
        self.file = file
        self.offset = offset
        self.length = length
        self.access = access
        self.longTerm = longTerm
        self.autoPin = autoPin
        self.createdAt = createdAt
    }
}
