import Glibc

/// An IPv4 or IPv6 socket address (`struct sockaddr_storage` and its length).
public struct SocketAddress: Sendable, CustomStringConvertible {
    private var storage = sockaddr_storage()
    private let length: socklen_t

    /// The addresses a server should try, in order, to listen on `host` (a numeric IPv4 or IPv6
    /// address, a host name, or empty for every local address) at TCP `port`.
    ///
    /// The corresponding C function is `getaddrinfo(host, port, {AI_PASSIVE | AI_NUMERICSERV,
    /// AF_UNSPEC, SOCK_STREAM})`.
    /// - Throws: ``AddressLookupError`` when the name does not resolve.
    public static func forListening(host: String, port: UInt16) throws(AddressLookupError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        guard status == 0, let list else { throw AddressLookupError(code: status) }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = list
        while let entry = cursor {
            cursor = entry.pointee.ai_next
            guard let address = entry.pointee.ai_addr else { continue }
            if let copy = SocketAddress(address, length: entry.pointee.ai_addrlen) { addresses.append(copy) }
        }
        return addresses
    }

    /// Copies an IPv4 or IPv6 address; `nil` for any other family or a length that does not fit.
    init?(_ address: UnsafePointer<sockaddr>, length: socklen_t) {
        let family = Int32(address.pointee.sa_family)
        guard family == AF_INET || family == AF_INET6 else { return nil }
        guard Int(length) <= MemoryLayout<sockaddr_storage>.size else { return nil }
        self.length = length
        let source = UnsafeRawBufferPointer(start: address, count: Int(length))
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
    }

    /// The address this socket is bound to; `nil` when it is not an IPv4 or IPv6 address.
    ///
    /// The corresponding C function is `getsockname`.
    static func bound(to fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0, length: length) }
        }
    }

    /// `AF_INET` or `AF_INET6`.
    var family: Int32 {
        Int32(storage.ss_family)
    }

    func withPointer<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafePointer(to: storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }

    /// `127.0.0.1:8470` or `[::1]:8470` (numeric); `?` for an address `getnameinfo` cannot print.
    ///
    /// The corresponding C function is `getnameinfo(NI_NUMERICHOST | NI_NUMERICSERV)`.
    public var description: String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let status = withPointer { address, length in
            getnameinfo(
                address, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
                NI_NUMERICHOST | NI_NUMERICSERV)
        }
        guard status == 0 else { return "?" }
        let hostText = host.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let serviceText = service.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return family == AF_INET6 ? "[\(hostText)]:\(serviceText)" : "\(hostText):\(serviceText)"
    }
}

/// A host name that `getaddrinfo` could not resolve (its `EAI_*` codes are not `errno` values).
public struct AddressLookupError: Error, Sendable, CustomStringConvertible {
    /// The `EAI_*` code `getaddrinfo` returned.
    public let code: Int32

    /// The C library's description, e.g. `Name or service not known` (`gai_strerror`).
    public var description: String {
        String(cString: gai_strerror(code))
    }
}

/// A `sockaddr_un` naming a socket file.
struct UnixAddress {
    private var storage = sockaddr_un()
    private let length: socklen_t

    /// The longest path a `sockaddr_un` holds: 107 bytes (`sun_path` less its terminating NUL).
    static let maximumPathLength = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// - Throws: `LinuxError` for `call`: `EINVAL` when `path` is empty or holds a NUL byte,
    ///   `ENAMETOOLONG` when it is longer than ``maximumPathLength``.
    init(_ path: String, call: String) throws(LinuxError) {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, !bytes.contains(0) else { throw LinuxError(errno: EINVAL, call: call, path: path) }
        guard bytes.count <= Self.maximumPathLength else {
            throw LinuxError(errno: ENAMETOOLONG, call: call, path: path)
        }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
        length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + 1)
    }

    func withPointer<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafePointer(to: storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }
}
