/// Where the daemon listens: `http://HOST:PORT` (TCP) or `unix:/path` (its `--unix` socket).
public enum DaemonAddress: Sendable, Equatable, CustomStringConvertible {
    /// A base URL without a trailing slash, `http://127.0.0.1:8470`.
    case tcp(baseURL: String)
    /// The path of a Unix domain socket.
    case unix(path: String)

    /// The local daemon at its default listen address.
    public static let localDefault = DaemonAddress.tcp(baseURL: "http://127.0.0.1:8470")

    /// Parses `http://HOST:PORT`, `https://HOST:PORT`, `HOST:PORT` (taken as http), `unix:/path`
    /// or `unix:///path`. Throws a usage error naming the text when it is none of these.
    public static func parse(_ text: String) throws(ClientError) -> DaemonAddress {
        let trimmed = text.trimmingWhitespace
        func bad(_ why: String) -> ClientError {
            ClientError(.usage, "invalid address \"\(trimmed)\": \(why) (use http://HOST:PORT or unix:/path)")
        }
        if trimmed.hasPrefix("unix:") {
            var path = String(trimmed.dropFirst("unix:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard path.hasPrefix("/") || path.hasPrefix(".") else {
                throw bad("the socket path must be absolute or ./relative")
            }
            return .unix(path: path)
        }
        var rest = trimmed
        var scheme = "http"
        let parts = trimmed.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 {
            scheme = parts[0].lowercased()
            guard scheme == "http" || scheme == "https" else { throw bad("unknown scheme \(scheme)") }
            rest = String(parts[1])
        }
        while rest.hasSuffix("/") { rest.removeLast() }
        guard !rest.isEmpty else { throw bad("no host") }
        guard !rest.contains("/"), !rest.contains("?"), !rest.contains("@") else { throw bad("only a host and a port") }
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            let port = rest[rest.index(after: colon)...]
            guard let number = Int(port), (1...65535).contains(number) else { throw bad("invalid port \"\(port)\"") }
        }
        return .tcp(baseURL: "\(scheme)://\(rest)")
    }

    /// The URL of `target` (a path with its query, `/v1/pins?limit=10`) at this address. A Unix
    /// socket is reached with a placeholder host; the socket path goes to CURLOPT_UNIX_SOCKET_PATH.
    public func url(for target: String) -> String {
        switch self {
        case .tcp(let baseURL): baseURL + target
        case .unix: "http://localhost" + target
        }
    }

    public var description: String {
        switch self {
        case .tcp(let baseURL): baseURL
        case .unix(let path): "unix:" + path
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace (spaces, tabs, CR, LF).
    var trimmingWhitespace: String {
        var slice = Substring(self)
        while slice.first?.isWhitespace == true { slice = slice.dropFirst() }
        while slice.last?.isWhitespace == true { slice = slice.dropLast() }
        return String(slice)
    }
}
