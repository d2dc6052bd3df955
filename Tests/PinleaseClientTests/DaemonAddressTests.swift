import PinleaseClient
import Testing

@Suite("Daemon address")
struct DaemonAddressTests {
    @Test("TCP and Unix forms")
    func valid() throws {
        #expect(try DaemonAddress.parse("http://127.0.0.1:8470") == .tcp(baseURL: "http://127.0.0.1:8470"))
        #expect(try DaemonAddress.parse("http://host:1/") == .tcp(baseURL: "http://host:1"))
        #expect(try DaemonAddress.parse("localhost:9000") == .tcp(baseURL: "http://localhost:9000"))
        #expect(try DaemonAddress.parse("https://[::1]:8470") == .tcp(baseURL: "https://[::1]:8470"))
        #expect(try DaemonAddress.parse("unix:/run/pinlease.sock") == .unix(path: "/run/pinlease.sock"))
        #expect(try DaemonAddress.parse("unix:///run/p.sock") == .unix(path: "/run/p.sock"))
        #expect(DaemonAddress.unix(path: "/s").url(for: "/v1/pins?limit=1") == "http://localhost/v1/pins?limit=1")
        #expect(DaemonAddress.localDefault.url(for: "/healthz") == "http://127.0.0.1:8470/healthz")
    }

    @Test(
        "invalid addresses are usage errors",
        arguments: [
            "ftp://x:1", "http://", "http://h:0", "http://h:99999", "http://h:1/v1",
            "unix:relative.sock", "http://u@h:1",
        ])
    func invalid(text: String) {
        #expect(throws: ClientError.self) { try DaemonAddress.parse(text) }
        do {
            _ = try DaemonAddress.parse(text)
        } catch {
            #expect(error.exitStatus == .usage)
        }
    }

    @Test("ids cannot add path segments or query arguments")
    func percentEncoding() {
        #expect(DaemonClient.percentEncoded("pin_ab-1.x~") == "pin_ab-1.x~")
        #expect(DaemonClient.percentEncoded("../a?b=c&d/é") == "..%2Fa%3Fb%3Dc%26d%2F%C3%A9")
        #expect(DaemonClient.queryString([("holder", "h 1"), ("state", "active")]) == "?holder=h%201&state=active")
        #expect(DaemonClient.queryString([]) == "")
    }
}
