import PinJSON

/// An RFC 9457 problem as the daemon sends it (`application/problem+json`).
public struct Problem: Sendable, Equatable {
    /// The whole document, extension members included.
    public let document: JSONObject

    public init(_ document: JSONObject) { self.document = document }

    public var type: String? { document["type"]?.stringValue }
    public var title: String? { document["title"]?.stringValue }
    public var detail: String? { document["detail"]?.stringValue }
    public var status: Int? { document["status"]?.int64Value.map { Int($0) } }

    /// The stable last segment of `type` (`not-locked` for `https://pinlease.dev/problems/not-locked`).
    public var code: String? {
        guard let type, let slash = type.lastIndex(of: "/") else { return type }
        return String(type[type.index(after: slash)...])
    }

    /// `title: detail` on one line (newlines in either become spaces), as the CLI prints errors.
    public var oneLine: String {
        let parts = [title, detail].compactMap { $0 }.filter { !$0.isEmpty }
        let text = parts.isEmpty ? (type ?? "error") : parts.joined(separator: ": ")
        return String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
