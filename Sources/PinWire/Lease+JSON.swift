import PinCore
import PinJSON

/// The API's JSON form of ``Lease``.
extension Lease: JSONRepresentable {
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

/// The API's JSON form of ``LeaseList``.
extension LeaseList: JSONRepresentable {
    public var json: JSON { .object(["items": .array(leases.map(\.json))]) }
}
