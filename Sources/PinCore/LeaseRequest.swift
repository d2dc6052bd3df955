/// What a lease is granted on: an existing pin, or a new pin made for the lease
/// (`auto_pin`: torn down with the lease's last sibling).
public enum LeaseTarget: Sendable {
    case pin(id: String)
    case newPin(PinRequest)
}

/// `POST /v1/leases`.
public struct LeaseGrantRequest: Sendable {
    public var target: LeaseTarget
    public var holder: String
    /// `nil`: the configured default.
    public var ttlSeconds: Int?
    /// `nil`: the configured default.
    public var graceSeconds: Int?
    public var webhookURL: String?
    /// When set, the descriptor hand-off serves only processes of this uid.
    public var holderUID: UInt32?

    public init(
        target: LeaseTarget, holder: String, ttlSeconds: Int? = nil, graceSeconds: Int? = nil,
        webhookURL: String? = nil,
        holderUID: UInt32? = nil
    ) {
        self.target = target
        self.holder = holder
        self.ttlSeconds = ttlSeconds
        self.graceSeconds = graceSeconds
        self.webhookURL = webhookURL
        self.holderUID = holderUID
    }
}

/// `GET /v1/leases?state=&holder=`: `nil` fields match everything.
public struct LeaseFilter: Sendable {
    public var state: LeaseState?
    public var holder: String?
    public var pinID: String?

    public init(state: LeaseState? = nil, holder: String? = nil, pinID: String? = nil) {
        self.state = state
        self.holder = holder
        self.pinID = pinID
    }
}

/// Who is asking: an admin (everything) or a holder (only its own leases).
public enum LeaseCaller: Sendable, Equatable {
    case admin
    case holder(String)
}
