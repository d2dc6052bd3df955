import LinuxFS

/// The HTTP server's listening sockets (non-blocking, as libmicrohttpd wants them), with the
/// one-line errors it reports at start.
extension ListeningSocket {
    /// Binds `host:port` (IPv4 or IPv6 literal, brackets allowed, or a host name; first address that binds).
    static func tcp(host: String, port: UInt16) throws(HTTPServerError) -> ListeningSocket {
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let addresses: [SocketAddress]
        do {
            addresses = try SocketAddress.forListening(host: name, port: port)
        } catch {
            throw HTTPServerError("cannot listen on \(host):\(port): \(error)")
        }
        var lastError = LinuxError(.addressNotAvailable, call: "bind", path: "\(host):\(port)")
        for address in addresses {
            do {
                return try ListeningSocket.tcp(address, name: "\(host):\(port)", nonBlocking: true)
            } catch {
                lastError = error
            }
        }
        throw HTTPServerError("cannot listen on \(host):\(port): \(lastError.briefDescription)")
    }

    /// Binds a Unix socket at `path` with mode 0660. A stale socket file is removed first; a live
    /// one (something accepts connections on it) or a non-socket file is an error.
    static func unix(path: String) throws(HTTPServerError) -> ListeningSocket {
        let length = path.utf8.count
        guard length > 0, length <= maximumUnixPathLength else {
            throw HTTPServerError(
                "cannot listen on unix:\(path): the path must be 1 to \(maximumUnixPathLength) bytes long")
        }
        do {
            return try ListeningSocket.unix(path: path, mode: 0o660, nonBlocking: true)
        } catch  where error.call == "bind" && error.code == .fileExists {
            throw HTTPServerError("cannot listen on unix:\(path): the path exists and is not a socket")
        } catch  where error.call == "bind" && error.code == .addressInUse {
            throw HTTPServerError("cannot listen on unix:\(path): another process is serving on it")
        } catch {
            throw HTTPServerError("cannot listen on unix:\(path): \(error.briefDescription)")
        }
    }
}
