import PinCore
import PinJSON

/// The API's JSON form of ``DaemonStatus`` (`GET /v1/status`): each group's states in a fixed
/// order, every state present (0 when none).
extension DaemonStatus: JSONRepresentable {
    public var json: JSON {
        let files = TrackedFileState.allCases.map { ($0.rawValue, JSON.int(Int64(filesByState[$0] ?? 0))) }
        let pins = [Pin.State.active, .failed].map { ($0.rawValue, JSON.int(Int64(pinsByState[$0] ?? 0))) }
        let leases = LeaseState.allCases.map { ($0.rawValue, JSON.int(Int64(leasesByState[$0] ?? 0))) }
        return .object([
            "files": .object(JSONObject(files)),
            "pins": .object(JSONObject(pins)),
            "budget": budget.json,
            "leases": .object(JSONObject(leases)),
            "events": .object(["last_sequence": .int(Int64(clamping: lastEventSequence))]),
        ])
    }
}
