/// The bounds a grant, a renewal and a revocation must respect. TTLs outside the bounds are
/// refused (422), never silently raised or cut.
public struct LeasePolicy: Sendable, Equatable {
    public var ttlMinSeconds = 1
    public var ttlMaxSeconds = 86_400
    public var ttlDefaultSeconds = 60
    public var graceDefaultSeconds = 30
    public var graceMaxSeconds = 3_600
    /// Events kept in the state database for `GET /v1/events?since=` before the oldest are
    /// forgotten (a resume from before them gets 410 `events-expired`). At least 1: the
    /// newest event is what sequence numbers continue from after a restart.
    public var eventsKept: UInt64 = 100_000

    public init() {}

    /// Checks the bounds against each other (at start-up).
    public func validate() throws(CoreError) {
        guard ttlMinSeconds >= 1, ttlMinSeconds <= ttlMaxSeconds else {
            throw CoreError(
                .invalidTTL, "the TTL bounds are inconsistent: min \(ttlMinSeconds) s, max \(ttlMaxSeconds) s")
        }
        guard (ttlMinSeconds...ttlMaxSeconds).contains(ttlDefaultSeconds) else {
            throw CoreError(
                .invalidTTL, "the default TTL \(ttlDefaultSeconds) s is outside [\(ttlMinSeconds), \(ttlMaxSeconds)] s")
        }
        guard graceMaxSeconds >= 0, (0...graceMaxSeconds).contains(graceDefaultSeconds) else {
            throw CoreError(
                .invalidGrace, "the default grace \(graceDefaultSeconds) s is outside [0, \(graceMaxSeconds)] s")
        }
        guard eventsKept >= 1 else { throw CoreError(.systemError, "at least 1 event must be kept, not \(eventsKept)") }
    }

    /// The TTL to use for a request: its own within the bounds, or the default.
    func ttl(_ requested: Int?) throws(CoreError) -> Int {
        guard let requested else { return ttlDefaultSeconds }
        guard (ttlMinSeconds...ttlMaxSeconds).contains(requested) else {
            throw CoreError(
                .invalidTTL, "ttl_s \(requested) is outside [\(ttlMinSeconds), \(ttlMaxSeconds)] s",
                extensions: [
                    "ttl_s": .integer(Int64(requested)), "min_ttl_s": .integer(Int64(ttlMinSeconds)),
                    "max_ttl_s": .integer(Int64(ttlMaxSeconds)),
                ])
        }
        return requested
    }

    /// The grace period to use: the request's own within the bounds, or `fallback`.
    func grace(_ requested: Int?, fallback: Int? = nil) throws(CoreError) -> Int {
        guard let requested else { return fallback ?? graceDefaultSeconds }
        guard (0...graceMaxSeconds).contains(requested) else {
            throw CoreError(
                .invalidGrace, "grace_s \(requested) is outside [0, \(graceMaxSeconds)] s",
                extensions: ["grace_s": .integer(Int64(requested)), "max_grace_s": .integer(Int64(graceMaxSeconds))])
        }
        return requested
    }
}
