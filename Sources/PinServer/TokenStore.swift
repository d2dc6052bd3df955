import LinuxFS
import Logging
import PinJSON
import Synchronization

/// Why the tokens could not be loaded; `description` is one line fit for a startup error.
public struct TokenStoreError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public var description: String { message }
}

/// The bearer tokens the API accepts. Without a tokens file there is one admin token, kept in
/// `<state-dir>/admin.token` (created on first start, mode 0600); with a file, the file's
/// tokens (re-read by ``reload()``). Tokens are never logged.
public final class TokenStore: Sendable {
    struct Entry: Sendable {
        let token: [UInt8]
        let principal: Principal
    }

    /// The result of checking an `Authorization` header.
    enum Authentication: Equatable {
        /// No `Authorization: Bearer` header.
        case missing
        /// A bearer token that is not known.
        case invalid
        case authenticated(Principal)
    }

    /// The file holding the generated admin token, when no tokens file is used.
    public let adminTokenPath: String?
    private let tokensFile: String?
    private let entries: Mutex<[Entry]>
    private let logger: Logger

    init(entries: [Entry], tokensFile: String?, adminTokenPath: String?, logger: Logger) {
        self.entries = Mutex(entries)
        self.tokensFile = tokensFile
        self.adminTokenPath = adminTokenPath
        self.logger = logger
    }

    /// Loads the tokens from `tokensFile` (`{"tokens":[{"token","role":"admin"|"holder","holder"?}]}`),
    /// or, when it is nil, creates or reuses `<stateDirectory>/admin.token` and logs its path.
    public static func load(tokensFile: String?, stateDirectory: String, logger: Logger) throws -> TokenStore {
        if let tokensFile {
            let entries = try parseTokensFile(tokensFile, logger: logger)
            logger.info("loaded \(entries.count) token(s) from \(tokensFile)")
            return TokenStore(entries: entries, tokensFile: tokensFile, adminTokenPath: nil, logger: logger)
        }
        let path = stateDirectory.hasSuffix("/") ? stateDirectory + "admin.token" : stateDirectory + "/admin.token"
        let token = try AdminTokenFile.loadOrCreate(path: path, stateDirectory: stateDirectory, logger: logger)
        logger.info("admin token at \(path)")
        let entry = Entry(token: Array(token.utf8), principal: Principal(role: .admin, holder: nil))
        return TokenStore(entries: [entry], tokensFile: nil, adminTokenPath: path, logger: logger)
    }

    /// Re-reads the tokens file (on SIGHUP). On error the current tokens stay in force.
    /// Without a tokens file this does nothing.
    public func reload() throws {
        guard let tokensFile else { return }
        let fresh = try Self.parseTokensFile(tokensFile, logger: logger)
        entries.withLock { $0 = fresh }
        logger.info("reloaded \(fresh.count) token(s) from \(tokensFile)")
    }

    /// Checks an `Authorization` header value. A token with any byte outside the RFC 6750
    /// `b64token` grammar (a NUL and junk after a valid token among them) is invalid without a
    /// lookup; every known token is compared in constant time.
    func authenticate(authorization: String?) -> Authentication {
        guard let token = Self.bearerToken(from: authorization) else { return .missing }
        guard Self.isB64Token(token) else { return .invalid }
        let presented = Array(token.utf8)
        let match = entries.withLock { entries in
            var found: Principal?
            for entry in entries where Self.constantTimeEquals(entry.token, presented) {
                found = entry.principal
            }
            return found
        }
        return match.map(Authentication.authenticated) ?? .invalid
    }

    /// The token of a `Bearer` credential (scheme case-insensitive), or nil.
    static func bearerToken(from authorization: String?) -> String? {
        guard let authorization else { return nil }
        let parts = authorization.trimmed.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmed
        return token.isEmpty ? nil : token
    }

    /// Whether `token` matches RFC 6750's `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
    static func isB64Token(_ token: String) -> Bool {
        let bytes = Array(token.utf8)
        let padding = bytes.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        let body = bytes.dropLast(padding)
        return !body.isEmpty
            && body.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"):
                    true
                case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"),
                    UInt8(ascii: "/"):
                    true
                default: false
                }
            }
    }

    /// Compares without an early exit, so timing does not reveal how much of a token matched.
    static func constantTimeEquals(_ expected: [UInt8], _ presented: [UInt8]) -> Bool {
        var difference: UInt8 = expected.count == presented.count ? 0 : 1
        for index in expected.indices {
            difference |= expected[index] ^ (index < presented.count ? presented[index] : 0)
        }
        return difference == 0
    }

    /// Parses and validates a tokens file; every error names the file and the offending entry.
    static func parseTokensFile(_ path: String, logger: Logger) throws(TokenStoreError) -> [Entry] {
        func failure(_ message: String) -> TokenStoreError {
            TokenStoreError(message: "tokens file \(path): \(message)")
        }
        let bytes: [UInt8]
        do {
            bytes = try SmallFile.read(path, limit: 1 << 20)
        } catch {
            throw failure(error.briefDescription)
        }
        let document: JSON
        do {
            document = try JSONCodec.parse(bytes)
        } catch {
            throw failure("malformed JSON at line \(error.line), column \(error.column): \(error.message)")
        }
        return try parseTokens(document, failure: failure, logger: logger)
    }

    /// Validates a parsed tokens document.
    static func parseTokens(_ document: JSON, failure: (String) -> TokenStoreError, logger: Logger)
        throws(TokenStoreError) -> [Entry]
    {
        guard let root = document.objectValue else { throw failure(#"expected an object {"tokens":[...]}"#) }
        if let unknown = root.keys.first(where: { $0 != "tokens" }) { throw failure("unknown field \"\(unknown)\"") }
        guard let list = root["tokens"]?.arrayValue else { throw failure(#""tokens" must be an array"#) }
        guard !list.isEmpty else { throw failure(#""tokens" is empty; no one could use the API"#) }
        var entries: [Entry] = []
        for (index, item) in list.enumerated() {
            let name = "tokens[\(index)]"
            guard let object = item.objectValue else { throw failure("\(name) must be an object") }
            if let unknown = object.keys.first(where: { !["token", "role", "holder"].contains($0) }) {
                throw failure("\(name) has unknown field \"\(unknown)\"")
            }
            guard let token = object["token"]?.stringValue, !token.isEmpty else {
                throw failure("\(name).token must be a non-empty string")
            }
            guard isB64Token(token) else {
                throw failure(
                    "\(name).token must be printable ASCII in the bearer token grammar "
                        + "(letters, digits, - . _ ~ + /, then = padding)"
                )
            }
            guard let roleName = object["role"]?.stringValue, let role = Principal.Role(rawValue: roleName) else {
                throw failure(#"\#(name).role must be "admin" or "holder""#)
            }
            var holder: String?
            switch (role, object["holder"]) {
            case (.holder, .string(let name)?) where !name.isEmpty:
                holder = name
            case (.holder, _):
                throw failure("\(name).holder must be a non-empty string for role \"holder\"")
            case (.admin, nil), (.admin, .null?):
                holder = nil
            case (.admin, _):
                throw failure("\(name).holder is only allowed for role \"holder\"")
            }
            let bytes = Array(token.utf8)
            if entries.contains(where: { $0.token == bytes }) {
                throw failure("\(name).token duplicates an earlier token")
            }
            if bytes.count < 16 {
                logger.warning(
                    "tokens file entry \(name) has a short token (\(bytes.count) characters); use at least 32")
            }
            entries.append(Entry(token: bytes, principal: Principal(role: role, holder: holder)))
        }
        return entries
    }
}
