/// A pin as the API shows it (`GET /v1/pins/{id}`), with its residency measured now.
public struct Pin: Sendable {
    public enum State: String, Sendable {
        case active
        /// Could not be re-created after a restart: it holds nothing; `reason` says why.
        case failed
    }

    package let record: PinRecord
    public let state: State
    public let residentBytes: UInt64
    public let mapSync: Bool
    public let mapSyncReason: String?
    public let longTermHeld: Bool
    public let longTermReason: String?
    public let registeredBuffers: Int
    public let leaseIDs: [String]
    public let reason: String?

    public var id: String { record.id }
}

/// `GET /v1/pins`: every pin and the budget in use.
public struct PinList: Sendable {
    public let pins: [Pin]
    public let usage: PinBudgetUsage
    /// The sort key to continue after (``PageRequest/after``), when more pins follow.
    public var next: String? = nil
}
