/// Unguessable identifiers from the system's cryptographic generator (getrandom).
enum RandomID {
    /// `prefix` + 32 hex digits: 128 random bits.
    static func make(prefix: String) -> String {
        let (high, low) = randomBits()
        return prefix + hex(high, digits: 16) + hex(low, digits: 16)
    }

    /// `prefix` + 32 hex digits: the wall-clock milliseconds (12 digits) then 80 random bits.
    /// Still unguessable, but ids made later sort later, so a table keyed by them grows at
    /// its end (a few pages written per commit, not one random page per row).
    static func makeOrdered(prefix: String, milliseconds: Int64) -> String {
        let (high, low) = randomBits()
        return prefix + hex(UInt64(max(0, milliseconds)) & 0xFFFF_FFFF_FFFF, digits: 12) + hex(high, digits: 16)
            + hex(low & 0xFFFF, digits: 4)
    }

    private static func randomBits() -> (UInt64, UInt64) {
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next())
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
