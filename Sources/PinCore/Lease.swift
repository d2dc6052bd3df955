import PinJSON

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
}

/// Why a lease is being (or was) revoked.
public enum RevokeReason {
    /// The TTL passed without renewal.
    public static let expired = "expired"
    /// An admin asked, without a reason of their own.
    public static let requested = "revoked-by-admin"
}

/// A lease as recorded durably. Times are wall-clock milliseconds since the epoch.
struct LeaseRecord: Sendable, Equatable {
    var id: String
    var pinID: String
    var path: RootedPath
    var holder: String
    var state: LeaseState
    var ttlSeconds: Int
    var graceSeconds: Int
    var webhookURL: String?
    var webhookSecret: String?
    /// When set, only a process of this uid receives the file descriptor (SO_PEERCRED).
    var holderUID: UInt32?
    var autoPin: Bool
    var grantedAt: Int64
    var renewedAt: Int64
    var expiresAt: Int64
    var reason: String?
    /// While revoking (and after): when the daemon tears its side down if the holder has not let go.
    var deadline: Int64?
    var endedAt: Int64?
}

/// A lease as the API shows it. `webhookSecret` is only ever shown in the answer to the grant.
public struct Lease: Sendable, JSONRepresentable {
    let record: LeaseRecord
    let revealSecret: Bool

    public var id: String { record.id }
    public var state: LeaseState { record.state }
    public var holder: String { record.holder }

    public var json: JSON {
        let now = WallClock.nowMilliseconds()
        var object: JSONObject = [
            "id": .string(record.id),
            "pin_id": .string(record.pinID),
            "path": .string(record.path.canonical),
            "holder": .string(record.holder),
            "state": .string(record.state.rawValue),
            "ttl_s": .int(Int64(record.ttlSeconds)),
            "grace_s": .int(Int64(record.graceSeconds)),
            "granted_at": .string(WallClock.format(milliseconds: record.grantedAt)),
            "renewed_at": .string(WallClock.format(milliseconds: record.renewedAt)),
            "expires_at": .string(WallClock.format(milliseconds: record.expiresAt)),
            "auto_pin": .bool(record.autoPin),
        ]
        if record.state == .active {
            object["remaining_ttl_ms"] = .int(max(0, record.expiresAt - now))
        }
        if let url = record.webhookURL { object["webhook_url"] = .string(url) }
        if revealSecret, let secret = record.webhookSecret { object["webhook_secret"] = .string(secret) }
        if let uid = record.holderUID { object["holder_uid"] = .int(Int64(uid)) }
        if let reason = record.reason { object["reason"] = .string(reason) }
        if let deadline = record.deadline { object["deadline"] = .string(WallClock.format(milliseconds: deadline)) }
        if let ended = record.endedAt { object["ended_at"] = .string(WallClock.format(milliseconds: ended)) }
        return .object(object)
    }
}

/// `GET /v1/leases`: the leases that match a filter, oldest grant first (one page of them).
public struct LeaseList: Sendable, JSONRepresentable {
    public let leases: [Lease]
    /// The sort key to continue after (``PageRequest/after``), when more leases match.
    public var next: String? = nil

    public var json: JSON { .object(["items": .array(leases.map(\.json))]) }
}
