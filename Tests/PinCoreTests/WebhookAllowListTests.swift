import PinJSON
import Testing

@testable import PinCore

@Suite struct WebhookAllowListTests {
    private func code(_ list: WebhookAllowList, _ url: String) -> CoreErrorCode? {
        do {
            try list.check(url)
            return nil
        } catch {
            return error.code
        }
    }

    @Test(arguments: [
        "ftp://a.example/", "http://", "https:///x", "/hooks", "a.example/hooks", "http://user@a.example/",
        "http://a.example/#x",
        "http://a.example:0/", "http://a.example:99999/", "http://a.example:/", "http://[::1/", "http://a b/",
        "http://[nope]/",
    ])
    func invalidPrefixesAreRefused(prefix: String) {
        #expect(throws: CoreError.self) { try WebhookAllowList(prefixes: [prefix]) }
    }

    @Test func matchEndsAtABoundary() throws {
        let list = try WebhookAllowList(prefixes: [
            "http://a.example", "https://b.example/hooks/", "https://c.example/in",
        ])
        #expect(code(list, "http://a.example") == nil)
        #expect(code(list, "http://a.example/") == nil)
        #expect(code(list, "http://a.example/any/path?x=1") == nil)
        #expect(code(list, "http://a.example?x=1") == nil)
        #expect(code(list, "http://a.example.evil.net/") == .webhookNotAllowed)
        #expect(code(list, "http://a.example:8080/") == .webhookNotAllowed)
        #expect(code(list, "https://a.example/") == .webhookNotAllowed)
        #expect(code(list, "https://b.example/hooks/x") == nil)
        #expect(code(list, "https://b.example/hooks") == .webhookNotAllowed)
        #expect(code(list, "https://c.example/in/x") == nil)
        #expect(code(list, "https://c.example/in?y") == nil)
        #expect(code(list, "https://c.example/inside") == .webhookNotAllowed)
    }

    @Test func schemeAndHostAreCaseInsensitivePathsAreNot() throws {
        let list = try WebhookAllowList(prefixes: ["HTTP://A.Example/Hooks/"])
        #expect(code(list, "http://a.example/Hooks/1") == nil)
        #expect(code(list, "hTTp://A.EXAMPLE/Hooks/1") == nil)
        #expect(code(list, "http://a.example/hooks/1") == .webhookNotAllowed)
    }

    @Test func badURLsAreInvalidNotJustDisallowed() throws {
        let list = try WebhookAllowList(prefixes: ["http://a.example/"])
        #expect(code(list, "http://user:pass@a.example/") == .invalidWebhookURL)
        #expect(code(list, "http://a.example/#frag") == .invalidWebhookURL)
        #expect(code(list, "http://a.example/" + String(repeating: "x", count: 2048)) == .invalidWebhookURL)
        #expect(code(list, "file:///etc/passwd") == .invalidWebhookURL)
        #expect(code(list, "http://a.example/a b") == .invalidWebhookURL)
        #expect(code(list, "http:///x") == .invalidWebhookURL)
    }

    @Test func dotSegmentsCannotLeaveAnAllowedPrefix() throws {
        let list = try WebhookAllowList(prefixes: ["https://hooks.example/tenant-a/"])
        #expect(code(list, "https://hooks.example/tenant-a/x") == nil)
        #expect(code(list, "https://hooks.example/tenant-a/x.json?a=../b") == nil)  // the query is not a path
        for url in [
            "https://hooks.example/tenant-a/../tenant-b/x", "https://hooks.example/tenant-a/%2e%2E/tenant-b/x",
            "https://hooks.example/tenant-a/./x", "https://hooks.example/tenant-a/x/..",
        ] {
            #expect(code(list, url) == .invalidWebhookURL, "\(url)")
        }
    }

    @Test func notAllowedCarriesTheURLAndThePrefixes() throws {
        let list = try WebhookAllowList(prefixes: ["http://a.example/"])
        do {
            try list.check("http://b.example/")
            Issue.record("expected a refusal")
        } catch {
            #expect(error.code == .webhookNotAllowed)
            #expect(error.extensions["webhook_url"] == .text("http://b.example/"))
            #expect(error.extensions["allowed"] == .list([.text("http://a.example/")]))
        }
    }

    @Test func ipv6LiteralHosts() throws {
        let list = try WebhookAllowList(prefixes: ["http://[::1]:8080/", "http://[2001:DB8::1]"])
        #expect(code(list, "http://[::1]:8080/hook") == nil)
        #expect(code(list, "http://[::1]/hook") == .webhookNotAllowed)
        #expect(code(list, "http://[2001:db8::1]/x") == nil)
        #expect(code(list, "http://[2001:db8::1]:1/x") == .webhookNotAllowed)
    }

    @Test func onlyLiteralSpecialHostsPermitSpecialAddresses() throws {
        let list = try WebhookAllowList(prefixes: [
            "http://localhost:1/", "http://127.0.0.1:2/", "http://[::1]:3/", "http://169.254.169.254/",
            "http://internal.example/",
            "http://127.1/",
        ])
        #expect(try list.permitsSpecialAddresses("http://localhost:1/x"))
        #expect(try list.permitsSpecialAddresses("http://127.0.0.1:2/x"))
        #expect(try list.permitsSpecialAddresses("http://[::1]:3/x"))
        #expect(try list.permitsSpecialAddresses("http://169.254.169.254/latest"))
        #expect(try !list.permitsSpecialAddresses("http://internal.example/x"))
        #expect(try !list.permitsSpecialAddresses("http://127.1/x"))  // not a literal inet_pton accepts
    }

    @Test func specialAddressClassification() {
        let special: [[UInt8]] = [
            [127, 0, 0, 1], [127, 255, 1, 2], [0, 0, 0, 0], [169, 254, 169, 254],
            [UInt8](repeating: 0, count: 15) + [1], [UInt8](repeating: 0, count: 16),
            [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [1], [0xfe, 0xbf] + [UInt8](repeating: 0, count: 14),
            [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 127, 0, 0, 1],
            [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 169, 254, 0, 1],
        ]
        let ordinary: [[UInt8]] = [
            [10, 0, 0, 1], [192, 168, 1, 1], [169, 253, 0, 1], [8, 8, 8, 8], [128, 0, 0, 1],
            [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1],
            [0xfe, 0xc0] + [UInt8](repeating: 0, count: 14),
            [UInt8](repeating: 0, count: 15) + [2], [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 10, 0, 0, 1],
        ]
        for address in special { #expect(WebhookAllowList.isSpecialAddress(address), "\(address)") }
        for address in ordinary { #expect(!WebhookAllowList.isSpecialAddress(address), "\(address)") }
    }
}
