/// Exponential backoff with "full jitter" between webhook attempts.
public struct BackoffSchedule: Sendable, Equatable {
    /// The upper bound of the first delay, in seconds.
    public var base: Double = 0.25
    public var factor: Double = 2
    /// The largest upper bound, in seconds.
    public var cap: Double = 30

    public init(base: Double = 0.25, factor: Double = 2, cap: Double = 30) {
        self.base = base
        self.factor = factor
        self.cap = cap
    }

    /// The shortest delay ever returned, in seconds.
    static let minimumDelay = 0.01

    /// Delay before attempt n+1 after n failed attempts: "full jitter" uniform in [0, min(cap, base*factor^(n-1))],
    /// but at least 10 ms. Deterministic given the generator (tests pass a seeded generator).
    public func delay(afterFailedAttempts n: Int, using generator: inout some RandomNumberGenerator) -> Double {
        let bound = min(cap, base * Self.power(factor, max(1, n) - 1))
        guard bound.isFinite, bound > Self.minimumDelay else { return Self.minimumDelay }
        return max(Self.minimumDelay, Double.random(in: 0...bound, using: &generator))
    }

    /// `value` to the power of `exponent` (≥ 0) by repeated multiplication, which is exact for the
    /// factor 2 in use, without the C library's `pow`.
    private static func power(_ value: Double, _ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<exponent {
            result *= value
            if !result.isFinite || result == 0 { break }
        }
        return result
    }
}
