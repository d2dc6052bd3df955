/// Unguessable identifiers: 128 bits from the system's cryptographic generator (getrandom).
enum RandomID {
    static func make(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<2).map { _ in
            let value = generator.next() as UInt64
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return prefix + hex.joined()
    }
}
