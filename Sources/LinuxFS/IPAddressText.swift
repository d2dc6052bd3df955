import Glibc

/// IP addresses as text and as the bytes of the address (network byte order).
public enum IPAddressText {
    /// The 4 bytes of a dotted-quad IPv4 address (`192.0.2.1`); `nil` for anything else.
    ///
    /// The corresponding C function is `inet_pton(AF_INET)`.
    public static func ipv4Bytes(_ text: String) -> [UInt8]? {
        parse(text, family: AF_INET, count: 4)
    }

    /// The 16 bytes of an IPv6 address without brackets (`::1`); `nil` for anything else.
    ///
    /// The corresponding C function is `inet_pton(AF_INET6)`.
    public static func ipv6Bytes(_ text: String) -> [UInt8]? {
        parse(text, family: AF_INET6, count: 16)
    }

    /// The usual text of a 4-byte IPv4 or a 16-byte IPv6 address; `nil` for any other length.
    ///
    /// The corresponding C function is `inet_ntop`.
    public static func format(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        return text.withUnsafeMutableBufferPointer { buffer in
            inet_ntop(bytes.count == 4 ? AF_INET : AF_INET6, bytes, buffer.baseAddress, socklen_t(buffer.count))
                .map { String(cString: $0) }
        }
    }

    private static func parse(_ text: String, family: Int32, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 16)
        guard inet_pton(family, text, &buffer) == 1 else { return nil }
        return Array(buffer.prefix(count))
    }
}
