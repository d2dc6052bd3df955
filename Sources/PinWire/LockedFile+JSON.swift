import PinCore
import PinJSON

/// The API's JSON form of ``LockReport``.
extension LockReport: JSONRepresentable {
    public var json: JSON {
        .object([
            "path": .string(path.canonical),
            "immutable": .bool(immutable),
            "read_lease": .bool(readLease),
            "writers": .string(writers.rawValue),
            "flag_set_by_daemon": .bool(flagSetByDaemon),
            "locked_at": .string(lockedAt),
            "compat": compatibility.json,
        ])
    }
}

/// The API's JSON form of ``UnlockReport``.
extension UnlockReport: JSONRepresentable {
    public var json: JSON {
        var object: JSONObject = [
            "path": .string(path.canonical),
            "immutable": .bool(immutable),
            "read_lease": .bool(false),
            "flag_cleared": .bool(flagCleared),
        ]
        if let note { object["note"] = .string(note) }
        return .object(object)
    }
}

/// The API's JSON form of ``TrackedFile``.
extension TrackedFile: JSONRepresentable {
    public var json: JSON {
        var object: JSONObject = [
            "path": .string(path.canonical),
            "root": .string(path.root),
            "relative_path": .string(path.relative),
            "device": .int(Int64(bitPattern: device)),
            "inode": .int(Int64(bitPattern: inode)),
            "state": .string(state),
            "immutable": .bool(immutable),
            "read_lease": .bool(readLease),
            "writers": .string(writers.rawValue),
            "flag_set_by_daemon": .bool(flagSetByDaemon),
            "locked_at": .string(lockedAt),
            "compat": compatibility.json,
            "pins": .array(pinIDs.map { .string($0) }),
        ]
        if let reason { object["reason"] = .string(reason) }
        if let violation { object["violation"] = violation.json }
        return .object(object)
    }
}
