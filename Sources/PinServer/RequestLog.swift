import Logging
import Synchronization

/// One request's id and the structured fields of its access log line (`route`, `lease_id`,
/// `path`, `problem`...), filled in while the request is handled. While its handler runs, the
/// log is bound to ``current``, so that every line logged meanwhile carries its `request_id`
/// (``metadataProvider``).
final class RequestLog: Sendable {
    /// The client's `X-Request-Id` when it is sane, else a new one; answered in `X-Request-Id`.
    let requestID: String
    private let fields = Mutex<Logger.Metadata>([:])

    /// The log of a request that sent `X-Request-Id: clientID` (nil when it sent none).
    init(clientID: String?) {
        requestID = clientID.flatMap(Self.accepted) ?? Self.newID()
    }

    /// Sets field `key` of the access log line.
    func set(_ key: String, _ value: Logger.Metadata.Value) {
        fields.withLock { $0[key] = value }
    }

    /// Sets field `key` to `text`.
    func set(_ key: String, _ text: String) {
        set(key, .string(text))
    }

    /// The matched route's template (`/v1/leases/{id}`), once routing found one.
    var route: String? {
        guard case .string(let route)? = fields.withLock({ $0["route"] }) else { return nil }
        return route
    }

    /// The fields set so far.
    var metadata: Logger.Metadata {
        fields.withLock { $0 }
    }

    /// The longest client id kept.
    static let maximumIDLength = 128

    /// `id` when it is 1 to ``maximumIDLength`` visible ASCII characters (no space, no control
    /// character), so that it is safe in a header and a log line; nil otherwise.
    static func accepted(_ id: String) -> String? {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= maximumIDLength, bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return nil
        }
        return id
    }

    /// 32 hex digits: 128 bits from the system's random generator.
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        return [generator.next(), generator.next()].map { (half: UInt64) in
            let digits = String(half, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }.joined()
    }

    /// The log of the request whose handler runs on this thread, if any.
    @TaskLocal static var current: RequestLog?

    /// Adds `request_id` to every line logged while a request's handler runs.
    static let metadataProvider = Logger.MetadataProvider {
        guard let current else { return [:] }
        return ["request_id": .string(current.requestID)]
    }
}
