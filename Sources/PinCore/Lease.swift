/// Where a lease is in its life: `active → revoking → (released | revoked)`, `active →
/// released`, and for a TTL that passed without renewal `active → revoking (reason "expired")
/// → (released | expired)`.
public enum LeaseState: String, Sendable, CaseIterable {
    case active
    /// The holder was told to let go and has until the deadline.
    case revoking
    /// The holder let go.
    case released
    /// The deadline passed while revoking: the daemon tore its side down.
    case revoked
    /// The TTL passed without renewal and then the grace period too.
    case expired

    /// Whether the lease is over (nothing more happens to it).
    public var isEnded: Bool { self == .released || self == .revoked || self == .expired }

    /// The position of the state in ``allCases``.
    var ordinal: Int {
        switch self {
        case .active: 0
        case .revoking: 1
        case .released: 2
        case .revoked: 3
        case .expired: 4
        }
    }
}

/// Why a lease is being (or was) revoked.
public enum RevokeReason {
    /// The TTL passed without renewal.
    public static let expired = "expired"
    /// An admin asked, without a reason of their own.
    public static let requested = "revoked-by-admin"
}

/// A lease as recorded durably. Times are wall-clock milliseconds since the epoch.
package struct LeaseRecord: Sendable, Equatable {
    package var id: String
    package var pinID: String
    package var path: RootedPath
    package var holder: String
    package var state: LeaseState
    package var ttlSeconds: Int
    package var graceSeconds: Int
    package var webhookURL: String?
    package var webhookSecret: String?
    /// When set, only a process of this uid receives the file descriptor (SO_PEERCRED).
    package var holderUID: UInt32?
    package var autoPin: Bool
    package var grantedAt: Int64
    package var renewedAt: Int64
    package var expiresAt: Int64
    package var reason: String?
    /// While revoking (and after): when the daemon tears its side down if the holder has not let go.
    package var deadline: Int64?
    package var endedAt: Int64?

    package init(
        id: String, pinID: String, path: RootedPath, holder: String, state: LeaseState, ttlSeconds: Int,
        graceSeconds: Int, webhookURL: String? = nil, webhookSecret: String? = nil, holderUID: UInt32? = nil,
        autoPin: Bool, grantedAt: Int64, renewedAt: Int64, expiresAt: Int64, reason: String? = nil,
        deadline: Int64? = nil, endedAt: Int64? = nil
    ) {
        self.id = id
        self.pinID = pinID
        self.path = path
        self.holder = holder
        self.state = state
        self.ttlSeconds = ttlSeconds
        self.graceSeconds = graceSeconds
        self.webhookURL = webhookURL
        self.webhookSecret = webhookSecret
        self.holderUID = holderUID
        self.autoPin = autoPin
        self.grantedAt = grantedAt
        self.renewedAt = renewedAt
        self.expiresAt = expiresAt
        self.reason = reason
        self.deadline = deadline
        self.endedAt = endedAt
    }
}

/// A lease as the API shows it. `webhookSecret` is only ever shown in the answer to the grant.
public struct Lease: Sendable {
    package let record: LeaseRecord
    package let revealSecret: Bool

    public var id: String { record.id }
    public var state: LeaseState { record.state }
    public var holder: String { record.holder }
}

/// `GET /v1/leases`: the leases that match a filter, oldest grant first (one page of them).
public struct LeaseList: Sendable {
    public let leases: [Lease]
    /// The sort key to continue after (``PageRequest/after``), when more leases match.
    public var next: String? = nil
}
