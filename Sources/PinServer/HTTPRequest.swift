/// A fully received request as route handlers see it.
struct HTTPRequest: Sendable {
    /// The method as sent, for example `POST`.
    let method: String
    /// The decoded path without the query string, for example `/v1/files/inspect`.
    let path: String
    /// The `Content-Type` header, if any.
    let contentType: String?
    /// The `Authorization` header, if any. Never logged.
    let authorization: String?
    /// The `Last-Event-ID` header, if any: where a reconnecting event-stream client left off.
    let lastEventID: String?
    /// The query string's arguments, decoded (`?state=active&holder=h1`); the last of a repeated name wins.
    let query: [String: String]
    /// The body bytes (at most the configured maximum).
    let body: [UInt8]
    /// Values of the `{name}` segments of the matched route pattern.
    var parameters: [String: String] = [:]
    /// Who sent the request, once authenticated.
    var principal: Principal?
    /// Its id and the fields of its access log line.
    let log: RequestLog

    init(
        method: String, path: String, contentType: String? = nil, authorization: String? = nil,
        lastEventID: String? = nil,
        query: [String: String] = [:], body: [UInt8] = [], log: RequestLog? = nil
    ) {
        self.log = log ?? RequestLog(clientID: nil)
        self.method = method
        self.path = path
        self.contentType = contentType
        self.authorization = authorization
        self.lastEventID = lastEventID
        self.query = query
        self.body = body
    }
}
