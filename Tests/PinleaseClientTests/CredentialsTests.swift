import Glibc
import PinleaseClient
import Testing

@Suite("Token sources")
struct CredentialsTests {
    /// A file holding `text`, removed by the caller.
    func tokenFile(_ text: String) -> String {
        var template = Array("/tmp/pinlease-token-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        return path
    }

    @Test("flag, then file, then environment; whitespace trimmed")
    func order() throws {
        let path = tokenFile("from-file\n")
        defer { unlink(path) }
        let environment = ["PINLEASE_TOKEN": "from-env", "PINLEASE_TOKEN_FILE": path]
        #expect(try Credentials.resolve(token: " flag ", tokenFile: path, environment: environment) == "flag")
        #expect(try Credentials.resolve(token: nil, tokenFile: path, environment: environment) == "from-file")
        #expect(try Credentials.resolve(token: nil, tokenFile: nil, environment: environment) == "from-env")
        #expect(
            try Credentials.resolve(token: nil, tokenFile: nil, environment: ["PINLEASE_TOKEN_FILE": path])
                == "from-file")
    }

    @Test("an unreadable file is named, its contents never")
    func unreadable() {
        do {
            _ = try Credentials.resolve(token: nil, tokenFile: "/nonexistent/token", environment: [:])
            Issue.record("no error")
        } catch {
            #expect(error.message.contains("/nonexistent/token"))
            #expect(error.exitStatus == .other)
        }
        let path = tokenFile("line1\nsecret-line2\n")
        defer { unlink(path) }
        do {
            _ = try Credentials.resolve(token: nil, tokenFile: path, environment: [:])
            Issue.record("no error")
        } catch {
            #expect(!error.message.contains("secret-line2"))
            #expect(error.exitStatus == .usage)
        }
    }
}
