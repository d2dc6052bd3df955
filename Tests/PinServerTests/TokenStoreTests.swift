import Glibc
import Logging
import PinJSON
import Testing

@testable import PinServer

@Suite("Token store")
struct TokenStoreTests {
    @Test("without a tokens file an admin token is created with mode 0600 and reused")
    func generatedAdminToken() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let state = directory.file("state/nested")
        let store = try TokenStore.load(tokensFile: nil, stateDirectory: state, logger: .test)
        #expect(store.adminTokenPath == "\(state)/admin.token")
        let token = try #require(directory.read("state/nested/admin.token")).trimmingWhitespace
        #expect(token.count == 43)
        #expect(token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(directory.mode("state/nested/admin.token") == 0o600)
        #expect(
            store.authenticate(authorization: "Bearer \(token)") == .authenticated(Principal(role: .admin, holder: nil))
        )

        let again = try TokenStore.load(tokensFile: nil, stateDirectory: state, logger: .test)
        #expect(
            again.authenticate(authorization: "Bearer \(token)") == .authenticated(Principal(role: .admin, holder: nil))
        )
        #expect(directory.read("state/nested/admin.token")?.trimmingWhitespace == token)
    }

    @Test("a readable admin token file is tightened to 0600")
    func tightensMode() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.write("admin.token", "existing-token-value\n")
        chmod(directory.file("admin.token"), 0o644)
        let store = try TokenStore.load(tokensFile: nil, stateDirectory: directory.path, logger: .test)
        #expect(directory.mode("admin.token") == 0o600)
        #expect(store.authenticate(authorization: "Bearer existing-token-value") != .invalid)
    }

    @Test("generated tokens differ")
    func tokensAreRandom() {
        #expect(AdminTokenFile.generateToken() != AdminTokenFile.generateToken())
    }

    @Test("a tokens file gives admin and holder principals")
    func tokensFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.write(
            "tokens.json",
            #"{"tokens":[{"token":"admin-secret-123456","role":"admin"},"#
                + #"{"token":"holder-secret-123456","role":"holder","holder":"h1"}]}"#
        )
        let store = try TokenStore.load(
            tokensFile: directory.file("tokens.json"), stateDirectory: directory.path, logger: .test)
        #expect(store.adminTokenPath == nil)
        #expect(directory.read("admin.token") == nil)
        #expect(
            store.authenticate(authorization: "Bearer admin-secret-123456")
                == .authenticated(Principal(role: .admin, holder: nil)))
        #expect(
            store.authenticate(authorization: "bearer  holder-secret-123456 ")
                == .authenticated(Principal(role: .holder, holder: "h1")))
        #expect(store.authenticate(authorization: "Bearer admin-secret-12345") == .invalid)
        #expect(store.authenticate(authorization: "Bearer admin-secret-1234567") == .invalid)
        #expect(store.authenticate(authorization: "Basic YWRtaW4=") == .missing)
        #expect(store.authenticate(authorization: "Bearer ") == .missing)
        #expect(store.authenticate(authorization: nil) == .missing)
    }

    @Test(
        "invalid tokens files fail with a one-line message naming the problem",
        arguments: [
            ("not json", "malformed JSON"),
            (#"[]"#, "expected an object"),
            (#"{"tokens":[],"x":1}"#, "unknown field \"x\""),
            (#"{"tokens":{}}"#, "must be an array"),
            (#"{"tokens":[]}"#, "is empty"),
            (#"{"tokens":["abc"]}"#, "tokens[0] must be an object"),
            (#"{"tokens":[{"role":"admin"}]}"#, "tokens[0].token"),
            (#"{"tokens":[{"token":"a b","role":"admin"}]}"#, "printable ASCII"),
            (#"{"tokens":[{"token":"abc","role":"root"}]}"#, "tokens[0].role"),
            (#"{"tokens":[{"token":"abc","role":"holder"}]}"#, "tokens[0].holder"),
            (#"{"tokens":[{"token":"abc","role":"admin","holder":"h"}]}"#, "only allowed for role"),
            (#"{"tokens":[{"token":"abc","role":"admin","extra":1}]}"#, "unknown field \"extra\""),
            (
                #"{"tokens":[{"token":"abc","role":"admin"},{"token":"abc","role":"admin"}]}"#,
                "tokens[1].token duplicates"
            ),
        ])
    func invalidFiles(contents: String, expected: String) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.write("tokens.json", contents)
        do {
            _ = try TokenStore.load(
                tokensFile: directory.file("tokens.json"), stateDirectory: directory.path, logger: .test)
            Issue.record("loaded \(contents)")
        } catch let error as TokenStoreError {
            #expect(error.description.contains(expected), "\(error.description)")
            #expect(error.description.hasPrefix("tokens file \(directory.file("tokens.json")): "))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("a missing tokens file is an error")
    func missingFile() {
        #expect(throws: TokenStoreError.self) {
            try TokenStore.load(tokensFile: "/nonexistent/tokens.json", stateDirectory: "/tmp", logger: .test)
        }
    }

    @Test("reload replaces the tokens, and keeps the old ones when the file is broken")
    func reload() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        directory.write("tokens.json", #"{"tokens":[{"token":"first-token-value","role":"admin"}]}"#)
        let store = try TokenStore.load(
            tokensFile: directory.file("tokens.json"), stateDirectory: directory.path, logger: .test)
        directory.write("tokens.json", #"{"tokens":[{"token":"second-token-value","role":"admin"}]}"#)
        try store.reload()
        #expect(store.authenticate(authorization: "Bearer first-token-value") == .invalid)
        #expect(store.authenticate(authorization: "Bearer second-token-value") != .invalid)
        directory.write("tokens.json", "{broken")
        #expect(throws: TokenStoreError.self) { try store.reload() }
        #expect(store.authenticate(authorization: "Bearer second-token-value") != .invalid)
    }

    @Test("constant-time comparison agrees with ==")
    func constantTime() {
        let samples: [[UInt8]] = [[], [1], [1, 2], [1, 3], [2, 2], [1, 2, 3]]
        for a in samples {
            for b in samples {
                #expect(TokenStore.constantTimeEquals(a, b) == (a == b))
            }
        }
    }

    @Test("base64url encoding matches RFC 4648 test vectors without padding")
    func base64URL() {
        #expect(Base64URL.encode(Array("".utf8)) == "")
        #expect(Base64URL.encode(Array("f".utf8)) == "Zg")
        #expect(Base64URL.encode(Array("fo".utf8)) == "Zm8")
        #expect(Base64URL.encode(Array("foo".utf8)) == "Zm9v")
        #expect(Base64URL.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
    }
}

@Suite("Bearer token grammar")
struct BearerTokenGrammarTests {
    static func store() -> TokenStore {
        TokenStore(
            entries: [.init(token: Array("tok-en_1.2~3+4/5==".utf8), principal: Principal(role: .admin, holder: nil))],
            tokensFile: nil, adminTokenPath: nil, logger: .test)
    }

    @Test("the RFC 6750 b64token grammar: 1*( ALPHA / DIGIT / - . _ ~ + / ) *=")
    func grammar() {
        for good in ["a", "tok-en_1.2~3+4/5==", "abc=", "Zz09"] { #expect(TokenStore.isB64Token(good), "\(good)") }
        for bad in [
            "", "=", "==abc", "a=b", "abc\u{0}", "abc\u{0}junk", "ab c", "abc\u{1}", "abc\u{7F}", "abc!", "abcé",
            "abc\t",
        ] {
            #expect(!TokenStore.isB64Token(bad), "\(bad.debugDescription)")
        }
    }

    @Test("a known token followed by a NUL byte and junk, or by anything outside the grammar, is invalid")
    func junkAfterTokenIsInvalid() {
        let store = Self.store()
        #expect(
            store.authenticate(authorization: "Bearer tok-en_1.2~3+4/5==")
                == .authenticated(Principal(role: .admin, holder: nil)))
        for junk in ["\u{0}", "\u{0}junk", " junk", "\u{1}", "!"] {
            #expect(
                store.authenticate(authorization: "Bearer tok-en_1.2~3+4/5==" + junk) == .invalid,
                "\(junk.debugDescription)")
        }
    }
}
