import LinuxFS
import Logging
import PinCore
import PinJSON

/// One connection of the descriptor hand-off protocol (described on ``DescriptorHandoffListener``):
/// reads the request line, authenticates and authorizes it, answers one line, and returns.
struct DescriptorHandoffExchange: Sendable {
    /// The longest request line, its newline included.
    static let maxRequestBytes = 4096
    static let example = #"{"lease_id":"lease_…","token":"…"}"#

    let tokens: TokenStore
    let authorize: DescriptorHandoffListener.Authorize
    /// How long a client has to send its whole request line.
    let requestTimeout: Duration
    let logger: Logger

    /// The request line's members.
    struct RequestLine {
        let leaseID: String
        /// `nil` when the line has no token (answered 401, like a request without `Authorization`).
        let token: String?
    }

    /// Serves `connection` to the end; never throws: every refusal is answered and logged.
    func serve(_ connection: UnixSocket) {
        let peer: PeerCredentials
        do {
            peer = try connection.peerCredentials()
        } catch {
            logger.error("descriptor hand-off: \(error)")
            refuse(
                connection,
                ProblemMapping.problem(
                    for: CoreError(.systemError, "The daemon cannot identify the connecting process.")),
                peer: nil, leaseID: nil)
            return
        }
        let line: RequestLine
        do throws(Problem) {
            line = try readRequestLine(from: connection)
        } catch {
            refuse(connection, error, peer: peer, leaseID: nil)
            return
        }
        let granted: HandedOffDescriptor
        do throws(Problem) {
            let holder = try holder(presenting: line.token)
            granted = try authorized(DescriptorHandoffRequest(leaseID: line.leaseID, holder: holder, peer: peer))
        } catch {
            refuse(connection, error, peer: peer, leaseID: line.leaseID)
            return
        }
        let reply: JSON = [
            "lease_id": .string(granted.leaseID),
            "pin_id": .string(granted.pinID),
            "path": .string(granted.path),
            "offset": .int(Int64(clamping: granted.offset)),
            "length": .int(Int64(clamping: granted.length)),
            "access": .string(granted.access.rawValue),
        ]
        do {
            // `granted` keeps the daemon's descriptor open until the kernel has duplicated it.
            try withExtendedLifetime(granted) {
                try connection.send(Self.line(reply), descriptor: granted.descriptor.fd)
            }
            logger.info(
                """
                descriptor hand-off: lease \(granted.leaseID), \(granted.access.rawValue) descriptor \
                of \(granted.path) to \(peer)
                """
            )
        } catch {
            logger.notice("descriptor hand-off: lease \(granted.leaseID) to \(peer) not delivered: \(error)")
        }
    }

    /// Reads and checks the request line; every failure is `invalid-request` (400).
    func readRequestLine(from connection: UnixSocket) throws(Problem) -> RequestLine {
        let bytes: [UInt8]
        do throws(LinuxError) {
            bytes = try connection.receive(maxBytes: Self.maxRequestBytes, timeout: requestTimeout)
        } catch  where error.code == .timedOut {
            throw Problem(.invalidRequest, "No complete request line arrived within \(requestTimeout).")
        } catch {
            throw Problem(.invalidRequest, "Reading the request line failed: \(error.message).")
        }
        guard bytes.last == UInt8(ascii: "\n") else {
            throw bytes.count == Self.maxRequestBytes
                ? Problem(
                    .invalidRequest, "The request line is longer than \(Self.maxRequestBytes) bytes (newline included)."
                )
                : Problem(.invalidRequest, "The connection ended before the request line's newline.")
        }
        let value: JSON
        do {
            value = try JSONCodec.parse(bytes)
        } catch {
            throw Problem(
                .invalidRequest, "Malformed JSON at column \(error.column): \(error.message)",
                extensions: ["column": .int(Int64(error.column))])
        }
        guard case .object(let object) = value else {
            throw Problem(
                .invalidRequest,
                "The request line must be a JSON object such as \(Self.example), "
                    + "not \(JSONBody.article(value.typeName))."
            )
        }
        let body = JSONBody(object: object)
        do throws(Problem) {
            try body.rejectUnknownFields(allowed: ["lease_id", "token"])
            let leaseID = try body.requiredString("lease_id")
            guard !leaseID.isEmpty else {
                throw Problem(
                    .invalidRequest, #"Field "lease_id" must not be empty."#, extensions: ["field": "lease_id"])
            }
            return RequestLine(leaseID: leaseID, token: try body.optionalString("token"))
        } catch {
            // The shared body checks throw `invalid-body` (422, for HTTP); here a bad line is 400.
            throw Problem(.invalidRequest, error.detail, extensions: error.extensions)
        }
    }

    /// The holder name of `token`'s principal, `nil` for an admin token; 401 for a missing or unknown token.
    func holder(presenting token: String?) throws(Problem) -> String? {
        switch tokens.authenticate(authorization: token.map { "Bearer \($0)" }) {
        case .missing:
            throw Problem(.unauthorized, #"Send the bearer token in the "token" field."#)
        case .invalid:
            throw Problem(.unauthorized, "The token is not valid.")
        case .authenticated(let principal):
            return principal.role == .admin ? nil : principal.holder ?? ""  // a holder without a name owns nothing
        }
    }

    private func authorized(_ request: DescriptorHandoffRequest) throws(Problem) -> HandedOffDescriptor {
        do {
            return try authorize(request)
        } catch {
            throw ProblemMapping.problem(for: error)
        }
    }

    /// Answers `problem` (no descriptor) and logs the refusal; a peer that is gone is not an error.
    private func refuse(_ connection: UnixSocket, _ problem: Problem, peer: PeerCredentials?, leaseID: String?) {
        let subject = [leaseID.map { "lease \($0)" }, peer.map(\.description)].compactMap { $0 }.joined(separator: ", ")
        logger.notice("descriptor hand-off refused (\(subject)): \(problem.status) \(problem.code): \(problem.detail)")
        try? connection.send(Self.line(problem.json))
    }

    /// `value` as compact JSON and a newline.
    static func line(_ value: JSON) -> [UInt8] {
        Array((JSONCodec.encode(value) + "\n").utf8)
    }
}
