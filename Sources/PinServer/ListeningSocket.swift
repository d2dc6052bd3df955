import Glibc

/// A bound, listening, non-blocking socket handed to libmicrohttpd with `MHD_OPTION_LISTEN_SOCKET`.
struct ListeningSocket: Sendable {
    let fd: Int32
    /// For logs: `127.0.0.1:8470`, `[::1]:8470` or `unix:/run/pinlease.sock`.
    let address: String
    /// The socket file to remove on close, for Unix sockets.
    let unixPath: String?

    /// Binds `host:port` (IPv4 or IPv6 literal, brackets allowed, or a host name; first address that binds).
    static func tcp(host: String, port: UInt16) throws(HTTPServerError) -> ListeningSocket {
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name.isEmpty ? nil : name, String(port), &hints, &list)
        guard status == 0, let list else {
            throw HTTPServerError("cannot listen on \(host):\(port): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = SystemCallError("bind", "\(host):\(port)", errno: EADDRNOTAVAIL)
        var cursor: UnsafeMutablePointer<addrinfo>? = list
        while let entry = cursor {
            cursor = entry.pointee.ai_next
            do {
                let fd = try bindAndListen(family: entry.pointee.ai_family, address: entry.pointee.ai_addr, length: entry.pointee.ai_addrlen,
                                           subject: "\(host):\(port)")
                return ListeningSocket(fd: fd, address: localAddress(of: fd) ?? "\(host):\(port)", unixPath: nil)
            } catch {
                lastError = error
            }
        }
        throw HTTPServerError("cannot listen on \(host):\(port): \(lastError)")
    }

    /// Binds a Unix socket at `path` with mode 0660. A stale socket file is removed first; a live
    /// one (something accepts connections on it) or a non-socket file is an error.
    static func unix(path: String) throws(HTTPServerError) -> ListeningSocket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < capacity else {
            throw HTTPServerError("cannot listen on unix:\(path): the path must be 1 to \(capacity - 1) bytes long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + 1)
        try removeStaleSocket(path, address: address, length: length)
        do {
            let fd = try withUnsafePointer(to: &address) { pointer throws(SystemCallError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress throws(SystemCallError) in
                    try bindAndListen(family: AF_UNIX, address: socketAddress, length: length, subject: path) { () throws(SystemCallError) in
                        guard chmod(path, 0o660) == 0 else { throw SystemCallError("chmod", path) }
                    }
                }
            }
            return ListeningSocket(fd: fd, address: "unix:\(path)", unixPath: path)
        } catch {
            throw HTTPServerError("cannot listen on unix:\(path): \(error)")
        }
    }

    /// Closes the socket and removes its socket file.
    func close() {
        _ = Glibc.close(fd)
        if let unixPath { unlink(unixPath) }
    }

    private static func bindAndListen(
        family: Int32, address: UnsafePointer<sockaddr>?, length: socklen_t, subject: String,
        afterBind: () throws(SystemCallError) -> Void = {}
    ) throws(SystemCallError) -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("socket", subject) }
        do throws(SystemCallError) {
            var on: Int32 = 1
            if family != AF_UNIX {
                guard setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                    throw SystemCallError("setsockopt", subject)
                }
            }
            if family == AF_INET6 {
                guard setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                    throw SystemCallError("setsockopt", subject)
                }
            }
            guard bind(fd, address, length) == 0 else { throw SystemCallError("bind", subject) }
            try afterBind()
            guard listen(fd, SOMAXCONN) == 0 else { throw SystemCallError("listen", subject) }
            return fd
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    private static func removeStaleSocket(_ path: String, address: sockaddr_un, length: socklen_t) throws(HTTPServerError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw HTTPServerError("cannot listen on unix:\(path): the path exists and is not a socket")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        if probe >= 0 {
            defer { Glibc.close(probe) }
            var target = address
            let connected = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, length) == 0 }
            }
            if connected { throw HTTPServerError("cannot listen on unix:\(path): another process is serving on it") }
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw HTTPServerError("cannot listen on unix:\(path): \(SystemCallError("unlink", path))")
        }
    }

    /// The bound address as text, for the log (shows the real port when 0 was asked for).
    private static func localAddress(of fd: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let status = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard status == 0 else { return nil }
        let hostText = host.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let serviceText = service.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return Int32(storage.ss_family) == AF_INET6 ? "[\(hostText)]:\(serviceText)" : "\(hostText):\(serviceText)"
    }
}
