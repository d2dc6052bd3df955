import Foundation

/// Parses sizes written by people: `"4096"`, `"64MiB"`, `"1 GiB"`, `"2G"` (binary units only).
public enum ByteSize {
    private static let units: [(suffix: String, shift: UInt64)] = [
        ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10),
        ("T", 40), ("G", 30), ("M", 20), ("K", 10), ("B", 0),
    ]

    /// Returns the number of bytes `text` names (at most `Int64.max`), or throws `invalid-size`.
    public static func parse(_ text: String) throws(CoreError) -> UInt64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let unit = units.first { trimmed.hasSuffix($0.suffix) }
        let number = trimmed.dropLast(unit?.suffix.count ?? 0).trimmingCharacters(in: .whitespaces)
        guard !number.isEmpty, number.allSatisfy({ ("0"..."9").contains($0) }), let value = UInt64(number) else {
            throw CoreError(
                .invalidSize, "'\(text)' is not a size: use bytes or a binary unit, e.g. 4096, \"64MiB\", \"1GiB\"")
        }
        let (result, overflow) = value.multipliedReportingOverflow(by: 1 << (unit?.shift ?? 0))
        guard !overflow, result <= UInt64(Int64.max) else {
            throw CoreError(.invalidSize, "'\(text)' is too large")
        }
        return result
    }
}
