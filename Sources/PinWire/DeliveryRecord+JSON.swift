import PinCore
import PinJSON

/// The delivery log's JSON form, in the API (`GET /v1/leases/{id}/deliveries`) and in the state database:
/// `{"webhook_id","lease_id","event","url","attempt","started_at","duration_ms","status"?,"error"?,
/// "outcome":"delivered"|"retrying"|"failed","next_attempt_at"?,"reason"?}`; times are RFC 3339 UTC
/// with milliseconds, `duration_ms` an integer.
extension DeliveryRecord: JSONRepresentable {
    package var json: JSON {
        var object: JSONObject = [
            "webhook_id": .string(messageID), "lease_id": .string(leaseID), "event": .string(event.rawValue),
            "url": .string(url), "attempt": .int(Int64(attempt)),
            "started_at": .string(WallClock.format(milliseconds: startedAt)),
            "duration_ms": .int(durationMilliseconds),
        ]
        if let statusCode { object["status"] = .int(Int64(statusCode)) }
        if let error { object["error"] = .string(error) }
        switch outcome {
        case .delivered:
            object["outcome"] = "delivered"
        case .retrying(let at):
            object["outcome"] = "retrying"
            object["next_attempt_at"] = .string(WallClock.format(milliseconds: at))
        case .failed(let reason):
            object["outcome"] = "failed"
            object["reason"] = .string(reason)
        }
        return .object(object)
    }

    /// The record a stored ``json`` describes, or `nil` when it is not one.
    package init?(json object: JSONObject) {
        guard let messageID = object["webhook_id"]?.stringValue, let leaseID = object["lease_id"]?.stringValue,
            let event = object["event"]?.stringValue.flatMap(EventType.init(rawValue:)),
            let url = object["url"]?.stringValue, let attempt = object["attempt"]?.int64Value,
            let startedAt = object["started_at"]?.stringValue.flatMap(WireTimestamp.milliseconds),
            let duration = object["duration_ms"]?.int64Value
        else { return nil }
        let outcome: Outcome
        switch object["outcome"]?.stringValue {
        case "delivered":
            outcome = .delivered
        case "retrying":
            guard let at = object["next_attempt_at"]?.stringValue.flatMap(WireTimestamp.milliseconds) else {
                return nil
            }
            outcome = .retrying(atMilliseconds: at)
        case "failed":
            guard let reason = object["reason"]?.stringValue else { return nil }
            outcome = .failed(reason: reason)
        default:
            return nil
        }
        self.init(
            messageID: messageID, leaseID: leaseID, event: event, url: url, attempt: Int(attempt), startedAt: startedAt,
            durationMilliseconds: duration, statusCode: object["status"]?.int64Value.map { Int($0) },
            error: object["error"]?.stringValue, outcome: outcome)
    }
}

/// An attempt's JSON form is that of its ``DeliveryRecord`` (what the delivery log keeps).
extension DeliveryAttempt: JSONRepresentable {
    public var json: JSON { DeliveryRecord(self).json }
}
