extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    var trimmed: String { trimmingBytes { $0 == 0x20 || $0 == 0x09 } }

    /// The text without leading and trailing `character`s (an ASCII character).
    func trimming(_ character: Character) -> String {
        guard let byte = character.asciiValue else { return String(self) }
        return trimmingBytes { $0 == byte }
    }

    /// The text without leading and trailing spaces, tabs and line breaks.
    var trimmingWhitespace: String { trimmingBytes { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D } }

    /// Drops leading and trailing ASCII bytes matching `isTrimmed`; works on UTF-8 code units,
    /// so it costs a scan of the ends, not a walk over grapheme clusters.
    private func trimmingBytes(_ isTrimmed: (UInt8) -> Bool) -> String {
        let text = Substring(self)
        guard let first = text.utf8.firstIndex(where: { !isTrimmed($0) }),
            let last = text.utf8.lastIndex(where: { !isTrimmed($0) })
        else { return "" }
        return String(text[first...last])
    }
}
