import PinCore
import PinJSON

/// The API's JSON form of ``CompatibilityRow``: `{"holds","reason","probed"}`.
extension CompatibilityRow: JSONRepresentable {
    public var json: JSON { .object(["holds": .bool(holds), "reason": .string(reason), "probed": .bool(probed)]) }
}

/// The API's JSON form of ``CompatibilityReport`` (the `compat` member of locked files): one
/// ``CompatibilityRow`` per protection, keyed by its stable name.
extension CompatibilityReport: JSONRepresentable {
    public var json: JSON {
        .object([
            "immutable_flag": immutableFlag.json,
            "existing_writers_blocked": existingWritersBlocked.json,
            "reflink_source_possible": reflinkSourcePossible.json,
            "lease_break_recall": leaseBreakRecall.json,
            "longterm_pin_write": longTermPinWrite.json,
            "longterm_pin_read": longTermPinRead.json,
            "map_sync": mapSync.json,
            "dax": dax.json,
            "pinned_writes": pinnedWrites.json,
        ])
    }
}
