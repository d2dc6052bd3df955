import Foundation
import LinuxFS

/// The URL prefixes webhook targets must start with (`--webhook-allow`).
///
/// Loopback, unspecified and link-local addresses (127.0.0.0/8, ::1, 0.0.0.0, ::, 169.254.0.0/16,
/// fe80::/10, and their IPv4-mapped forms) are reachable only through a prefix that names such a
/// host literally (`localhost`, `127.0.0.1`, `[::1]`, `169.254.169.254`, ...). The
/// ``WebhookSender`` enforces this on the address it really connects to, whatever DNS answers.
public struct WebhookAllowList: Sendable, Equatable {
    public let prefixes: [String]
    private let parsed: [ParsedURL]

    /// Each prefix must be an absolute http:// or https:// URL prefix with a host
    /// (CoreError .invalidWebhookURL otherwise).
    public init(prefixes: [String]) throws(CoreError) {
        var parsed: [ParsedURL] = []
        for prefix in prefixes { parsed.append(try ParsedURL(prefix, what: "webhook allow-list prefix")) }
        self.prefixes = prefixes
        self.parsed = parsed
    }

    public static func == (lhs: WebhookAllowList, rhs: WebhookAllowList) -> Bool { lhs.prefixes == rhs.prefixes }

    /// Throws .invalidWebhookURL (not an absolute http(s) URL with a host; userinfo "user:pass@" is refused because
    /// the URL is shown in delivery logs; fragments refused; max 2048 bytes) or .webhookNotAllowed (matches no prefix;
    /// extensions "webhook_url" and "allowed": [prefixes]). Matching: scheme and host compared case-insensitively, the
    /// URL must start with the prefix AND the match must end at a boundary (the prefix ends with "/", or the next URL
    /// character is "/", "?" or the end) so "http://a.example" does not allow "http://a.example.evil.net/".
    /// A port is part of the match: "http://a.example/" does not allow "http://a.example:8080/".
    public func check(_ url: String) throws(CoreError) {
        _ = try permitsSpecialAddresses(url)
    }

    /// Checks `url` like ``check(_:)`` and tells whether a prefix that allows it names a loopback,
    /// unspecified or link-local host literally (then connections to such addresses are allowed).
    package func permitsSpecialAddresses(_ url: String) throws(CoreError) -> Bool {
        let target = try ParsedURL(url, what: "webhook URL")
        var allowed = false
        var special = false
        for prefix in parsed where target.starts(with: prefix) {
            allowed = true
            special = special || prefix.namesSpecialHost
        }
        guard allowed else {
            throw CoreError(
                .webhookNotAllowed, "webhook URL \(url) does not start with an allowed prefix",
                extensions: ["webhook_url": .text(url), "allowed": .texts(prefixes)])
        }
        return special
    }

    /// Whether a connection to this address (4 bytes IPv4 or 16 bytes IPv6, network order) needs a
    /// prefix that names such a host literally: loopback, unspecified (0.0.0.0/8, ::), link-local
    /// (169.254.0.0/16, fe80::/10), also as IPv4-mapped IPv6. Other lengths count as special.
    package static func isSpecialAddress(_ bytes: [UInt8]) -> Bool {
        switch bytes.count {
        case 4:
            return bytes[0] == 127 || bytes[0] == 0 || (bytes[0] == 169 && bytes[1] == 254)
        case 16:
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                return isSpecialAddress(Array(bytes[12..<16]))
            }
            let loopbackOrUnspecified = bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] <= 1
            return loopbackOrUnspecified || (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80)
        default:
            return true
        }
    }
}

/// An absolute http(s) URL (or URL prefix) split where the allow-list needs it: the text with
/// scheme and host lowercased, and what its host is.
private struct ParsedURL: Sendable {
    /// The URL with scheme and authority lowercased, as bytes.
    let normalized: [UInt8]
    /// Whether the host is `localhost` or an IP literal that ``WebhookAllowList/isSpecialAddress(_:)`` covers.
    let namesSpecialHost: Bool

    static let maxLength = 2048

    init(_ text: String, what: String) throws(CoreError) {
        func invalid(_ why: String) -> CoreError {
            CoreError(.invalidWebhookURL, "\(what) \(text): \(why)", extensions: ["webhook_url": .text(text)])
        }
        let bytes = Array(text.utf8)
        guard bytes.count <= Self.maxLength else { throw invalid("longer than \(Self.maxLength) bytes") }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw invalid("only printable ASCII without spaces is allowed (percent-encode the rest)")
        }
        guard !bytes.contains(UInt8(ascii: "#")) else { throw invalid("fragments are not allowed") }
        let lowered = bytes.map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 0x20 : $0 }
        let scheme: [UInt8]
        if lowered.starts(with: Array("http://".utf8)) {
            scheme = Array("http://".utf8)
        } else if lowered.starts(with: Array("https://".utf8)) {
            scheme = Array("https://".utf8)
        } else {
            throw invalid("must be an absolute http:// or https:// URL")
        }
        let authorityEnd =
            bytes[scheme.count...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? bytes.count
        // "." and ".." segments (also percent-encoded) would let a URL that starts with an
        // allowed prefix resolve outside it: curl removes them before sending.
        let pathEnd = bytes[authorityEnd...].firstIndex(of: UInt8(ascii: "?")) ?? bytes.count
        let segments = lowered[authorityEnd..<pathEnd].split(
            separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        if segments.contains(where: { segment in
            let decoded = String(decoding: segment, as: UTF8.self).replacingOccurrences(of: "%2e", with: ".")
            return decoded == "." || decoded == ".."
        }) {
            throw invalid("dot segments (\"/./\", \"/../\") are not allowed in the path")
        }
        let authority = Array(lowered[scheme.count..<authorityEnd])
        guard !authority.contains(UInt8(ascii: "@")) else {
            throw invalid("user information (user:password@) is not allowed: the URL is shown in delivery logs")
        }
        var host = authority[...]
        var port: ArraySlice<UInt8>?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else {
                throw invalid("unterminated IPv6 literal")
            }
            host = authority[...close]
            let rest = authority[(close + 1)...]
            if !rest.isEmpty {
                guard rest.first == UInt8(ascii: ":") else { throw invalid("unexpected text after the IPv6 literal") }
                port = rest.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: UInt8(ascii: ":")) {
            host = authority[..<colon]
            port = authority[(colon + 1)...]
        }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let value = Int(String(decoding: port, as: UTF8.self)), (1...65535).contains(value)
            else { throw invalid("the port must be a number from 1 to 65535") }
        }
        guard !host.isEmpty else { throw invalid("the URL has no host") }
        let hostText = String(decoding: host, as: UTF8.self)
        if host.first == UInt8(ascii: "[") {
            guard let address = IPAddressText.ipv6Bytes(String(hostText.dropFirst().dropLast())) else {
                throw invalid("\(hostText) is not an IPv6 address")
            }
            namesSpecialHost = WebhookAllowList.isSpecialAddress(address)
        } else {
            let hostCharacters = host.allSatisfy { byte in
                (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
            }
            guard hostCharacters else { throw invalid("\(hostText) is not a host name or IP address") }
            let address = IPAddressText.ipv4Bytes(hostText)
            namesSpecialHost = hostText == "localhost" || address.map(WebhookAllowList.isSpecialAddress) == true
        }
        normalized = scheme + authority + bytes[authorityEnd...]
    }

    /// Whether this URL starts with `prefix` and the match ends at a boundary: the prefix ends
    /// with "/", or the next character of the URL is "/", "?" or the end.
    func starts(with prefix: ParsedURL) -> Bool {
        guard normalized.starts(with: prefix.normalized) else { return false }
        if prefix.normalized.last == UInt8(ascii: "/") || normalized.count == prefix.normalized.count { return true }
        let next = normalized[prefix.normalized.count]
        return next == UInt8(ascii: "/") || next == UInt8(ascii: "?")
    }
}
