/// What an event says, one case per event family.
public enum EventPayload: Sendable, Equatable {
    /// A `lease.*` event: the lease as the transition left it.
    case lease(LeaseEventData)
    /// A `file.violation` event: published once per file, and sent to each holder's webhook
    /// with that holder's lease id.
    case fileViolation(FileViolationEventData)
    /// Data of a stored event that none of the typed forms describes exactly (written by hand
    /// or by another version): kept as the compact JSON text the store holds, and replayed as
    /// it is. The domain never looks inside it.
    case recorded(String)
}

/// The fields every lease event carries.
public struct LeaseEventData: Sendable, Equatable {
    public var leaseID: String
    public var pinID: String
    /// The canonical path (`ROOT:relative`) of the leased file.
    public var path: String
    public var holder: String
    public var state: LeaseState
    /// Why it is revoking or ended, when it is.
    public var reason: String?
    /// Wall-clock milliseconds since the epoch by which a revoking lease must be let go.
    public var deadline: Int64?
    /// Wall-clock milliseconds since the epoch at which an active lease expires (only while active).
    public var expiresAt: Int64?

    public init(
        leaseID: String, pinID: String, path: String, holder: String, state: LeaseState, reason: String? = nil,
        deadline: Int64? = nil, expiresAt: Int64? = nil
    ) {
        self.leaseID = leaseID
        self.pinID = pinID
        self.path = path
        self.holder = holder
        self.state = state
        self.reason = reason
        self.deadline = deadline
        self.expiresAt = expiresAt
    }

    /// The event fields of `lease` in its current state.
    init(_ lease: LeaseRecord) {
        self.init(
            leaseID: lease.id, pinID: lease.pinID, path: lease.path.canonical, holder: lease.holder, state: lease.state,
            reason: lease.reason, deadline: lease.deadline, expiresAt: lease.state == .active ? lease.expiresAt : nil)
    }
}

/// The fields of a `file.violation` event.
public struct FileViolationEventData: Sendable, Equatable {
    /// The canonical path (`ROOT:relative`) of the violated file.
    public var path: String
    public var violation: FileViolation
    /// The lease of the holder whose webhook gets this copy; `nil` in the published event.
    public var leaseID: String?

    public init(path: String, violation: FileViolation, leaseID: String? = nil) {
        self.path = path
        self.violation = violation
        self.leaseID = leaseID
    }
}

extension EventPayload {
    /// The copy of this payload for the webhook of lease `leaseID`: with that lease's id.
    /// Recorded data is never re-addressed (only events published now are sent).
    func addressed(to leaseID: String) -> EventPayload {
        switch self {
        case .lease(var data):
            data.leaseID = leaseID
            return .lease(data)
        case .fileViolation(var data):
            data.leaseID = leaseID
            return .fileViolation(data)
        case .recorded:
            return self
        }
    }
}
