import PinCore
import PinJSON

/// The JSON form of an event: `{"seq", "type", "timestamp", "data"}`, the body of a webhook
/// (signed: the signature covers these exact bytes), an SSE `data:` line and, for `data`, the
/// `events` row of the state database. Member order and names are part of the contract.
extension Event {
    /// `{"seq", "type", "timestamp", "data"}`.
    package var json: JSON {
        .object([
            "seq": .int(Int64(sequence)), "type": .string(type.rawValue), "timestamp": .string(timestamp),
            "data": .object(data),
        ])
    }

    /// The body of the event's webhook message (compact JSON).
    package var webhookBody: String { JSONCodec.encode(json) }

    /// The event's `data` member.
    package var data: JSONObject { payload.json }

    /// An event whose data is `data`: typed when one of the ``EventPayload`` forms writes it
    /// back byte for byte, otherwise kept as its compact text (``EventPayload/recorded(_:)``).
    package init(sequence: UInt64, type: EventType, timestamp: String, data: JSONObject, holder: String?) {
        let payload = EventPayload(type: type, data: data)
        self.init(sequence: sequence, type: type, timestamp: timestamp, payload: payload, holder: holder)
    }
}

/// The stored form of an event's data (the `data` column of the `events` table).
extension Event {
    /// The `data` column: the compact JSON of ``data``.
    package var storedData: String {
        if case .recorded(let text) = payload { return text }
        return JSONCodec.encode(.object(data))
    }

    /// The event of a stored row, or `nil` when its data is not a JSON object (such a row is
    /// skipped by the replay, as it always was).
    package init?(sequence: UInt64, type: EventType, timestamp: String, storedData: String, holder: String?) {
        guard let data = (try? JSONCodec.parse(storedData))?.objectValue else { return nil }
        self.init(sequence: sequence, type: type, timestamp: timestamp, data: data, holder: holder)
    }
}

extension EventPayload {
    /// The `data` member of the event.
    package var json: JSONObject {
        switch self {
        case .lease(let lease): lease.json
        case .fileViolation(let violation): violation.json
        case .recorded(let text): (try? JSONCodec.parse(text))?.objectValue ?? [:]
        }
    }

    /// The payload `data` describes for an event of `type`: the typed form when it writes
    /// `data` back byte for byte (same members, order and values), else ``recorded(_:)``.
    package init(type: EventType, data: JSONObject) {
        let text = JSONCodec.encode(.object(data))
        let typed: EventPayload? =
            switch type {
            case .fileViolation: FileViolationEventData(json: data).map(EventPayload.fileViolation)
            default: LeaseEventData(json: data).map(EventPayload.lease)
            }
        if let typed, JSONCodec.encode(.object(typed.json)) == text {
            self = typed
        } else {
            self = .recorded(text)
        }
    }
}

extension LeaseEventData {
    /// `lease_id`, `pin_id`, `path`, `holder`, `state`, then `reason`, `deadline` and
    /// `expires_at` when present.
    package var json: JSONObject {
        var data: JSONObject = [
            "lease_id": .string(leaseID), "pin_id": .string(pinID), "path": .string(path), "holder": .string(holder),
            "state": .string(state.rawValue),
        ]
        if let reason { data["reason"] = .string(reason) }
        if let deadline { data["deadline"] = .string(WallClock.format(milliseconds: deadline)) }
        if let expiresAt { data["expires_at"] = .string(WallClock.format(milliseconds: expiresAt)) }
        return data
    }

    /// The fields `json` describes, or `nil` when one is missing or of the wrong form.
    package init?(json: JSONObject) {
        guard let leaseID = json["lease_id"]?.stringValue, let pinID = json["pin_id"]?.stringValue,
            let path = json["path"]?.stringValue, let holder = json["holder"]?.stringValue,
            let state = json["state"]?.stringValue.flatMap(LeaseState.init(rawValue:))
        else { return nil }
        var deadline: Int64?
        var expiresAt: Int64?
        if let text = json["deadline"] {
            guard let milliseconds = text.stringValue.flatMap(WireTimestamp.milliseconds) else { return nil }
            deadline = milliseconds
        }
        if let text = json["expires_at"] {
            guard let milliseconds = text.stringValue.flatMap(WireTimestamp.milliseconds) else { return nil }
            expiresAt = milliseconds
        }
        let reason = json["reason"]?.stringValue
        if json["reason"] != nil, reason == nil { return nil }
        self.init(
            leaseID: leaseID, pinID: pinID, path: path, holder: holder, state: state, reason: reason,
            deadline: deadline, expiresAt: expiresAt)
    }
}

extension FileViolationEventData {
    /// `path`, `reason` (the violation's code), `detail`, `violation` (code, detail,
    /// detected_at), then `lease_id` in a holder's copy.
    package var json: JSONObject {
        var data: JSONObject = [
            "path": .string(path), "reason": .string(violation.code), "detail": .string(violation.detail),
            "violation": violation.json,
        ]
        if let leaseID { data["lease_id"] = .string(leaseID) }
        return data
    }

    /// The fields `json` describes, or `nil` when one is missing or of the wrong form.
    package init?(json: JSONObject) {
        guard let path = json["path"]?.stringValue, let object = json["violation"]?.objectValue,
            let code = object["code"]?.stringValue, let detail = object["detail"]?.stringValue,
            let detectedAt = object["detected_at"]?.stringValue.flatMap(WireTimestamp.milliseconds)
        else { return nil }
        let leaseID = json["lease_id"]?.stringValue
        if json["lease_id"] != nil, leaseID == nil { return nil }
        let violation = FileViolation(code: code, detail: detail, detectedAt: detectedAt)
        self.init(path: path, violation: violation, leaseID: leaseID)
    }
}
