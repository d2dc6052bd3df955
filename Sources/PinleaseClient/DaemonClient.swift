import PinJSON

/// The daemon's REST API over one address with one token. Every call is a fresh blocking
/// exchange; non-2xx answers become ``ClientError``s carrying the problem and its exit code.
public final class DaemonClient {
    public let address: DaemonAddress
    private let token: String?
    /// Receives one line per request (method, URL, status) when the CLI runs with `--verbose`;
    /// headers are never passed, so the token cannot leak through it.
    public var trace: ((String) -> Void)?

    public init(address: DaemonAddress, token: String?) {
        self.address = address
        self.token = token
    }

    /// Sends one request and returns the answer whatever its status (for callers that branch on it).
    /// Without `timeoutSeconds` only connecting is bounded (10 s): a pin of many GiB may take minutes.
    public func send(
        _ method: String, _ target: String, body: JSON? = nil, headers: [String] = [], timeoutSeconds: Int? = nil
    ) throws(ClientError) -> HTTPResponse {
        let bytes = body.map { Array(JSONCodec.encode($0).utf8) }
        let transfer = try CurlTransfer(
            method: method, address: address, target: target, token: token, body: bytes, headers: headers,
            timeoutSeconds: timeoutSeconds, onData: nil)
        let status = try transfer.perform(address: address)
        trace?("\(method) \(address.url(for: target)) -> \(status)")
        return HTTPResponse(status: status, headers: transfer.headers, body: transfer.body)
    }

    /// Sends one request and returns its JSON body; a non-2xx answer throws its problem.
    public func call(_ method: String, _ target: String, body: JSON? = nil) throws(ClientError) -> JSON {
        let response = try send(method, target, body: body)
        guard response.isSuccess else { throw response.error }
        if response.body.isEmpty { return .null }
        guard let json = response.json else {
            throw ClientError(.other, "the daemon answered \(response.status) with a body that is not JSON")
        }
        return json
    }

    /// Every item of a paged list, following `next_cursor` to the end. The document returned is
    /// the last page's (with its other members, such as a pin list's `budget`) holding all items
    /// and no `next_cursor`.
    public func list(_ path: String, query: [(String, String)] = []) throws(ClientError) -> JSONObject {
        var items: [JSON] = []
        var cursor: String?
        while true {
            var arguments = query
            if let cursor { arguments.append(("cursor", cursor)) }
            guard case .object(var page) = try call("GET", path + Self.queryString(arguments)) else {
                throw ClientError(.other, "GET \(path) did not answer a JSON object")
            }
            items += page["items"]?.arrayValue ?? []
            cursor = page["next_cursor"]?.stringValue
            if cursor == nil || cursor == "" {
                page["items"] = .array(items)
                page.removeValue(forKey: "next_cursor")
                return page
            }
        }
    }

    /// Opens a streaming GET; `onData` gets each piece of a 2xx body as it arrives and returns
    /// false to stop. A non-2xx answer throws its problem; the end of the stream returns.
    public func stream(_ target: String, headers: [String] = [], onData: @escaping (UnsafeRawBufferPointer) -> Bool)
        throws(ClientError)
    {
        let transfer = try CurlTransfer(
            method: "GET", address: address, target: target, token: token, body: nil, headers: headers,
            timeoutSeconds: nil, onData: onData)
        let status = try transfer.perform(address: address)
        trace?("GET \(address.url(for: target)) -> \(status)")
        let response = HTTPResponse(status: status, headers: transfer.headers, body: transfer.body)
        guard response.isSuccess else { throw response.error }
    }

    /// `?a=1&b=x%20y` for the pairs given, or "" when there are none.
    public static func queryString(_ pairs: [(String, String)]) -> String {
        guard !pairs.isEmpty else { return "" }
        return "?" + pairs.map { "\(percentEncoded($0.0))=\(percentEncoded($0.1))" }.joined(separator: "&")
    }

    /// `text` with every byte outside RFC 3986's unreserved set percent-encoded, for a path
    /// segment or a query value (an id from the command line cannot add segments or arguments).
    public static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF")
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                out += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 15)])
            }
        }
        return out
    }
}
