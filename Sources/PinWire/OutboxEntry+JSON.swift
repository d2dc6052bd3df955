import PinCore
import PinJSON

extension OutboxEntry {
    /// `{"webhook_id","lease_id","event","state":"pending"|"delivered"|"failed","attempts",`
    /// `"next_attempt_at"?,"finished_at"?,"reason"?}`.
    package var stateJSON: JSONObject {
        var object: JSONObject = [
            "webhook_id": .string(id), "lease_id": .string(leaseID), "event": .string(event.rawValue),
            "attempts": .int(Int64(attempts)),
        ]
        if let finishedAt {
            object["state"] = outcome == "delivered" ? "delivered" : "failed"
            object["finished_at"] = .string(WallClock.format(milliseconds: finishedAt))
            if let outcome, outcome != "delivered" { object["reason"] = .string(outcome) }
        } else {
            object["state"] = "pending"
            object["next_attempt_at"] = .string(
                WallClock.format(milliseconds: nextAttemptAt ?? WallClock.nowMilliseconds()))
        }
        return object
    }
}
