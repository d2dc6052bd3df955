import Testing

@testable import PinServer

@Suite("Request target")
struct RequestTargetTests {
    @Test("control characters, raw or percent-encoded, are found in the path or the query")
    func controlCharacters() {
        #expect(RequestTarget.controlCharacter(in: "/v1/pins/pin_abc") == nil)
        #expect(RequestTarget.controlCharacter(in: "/v1/leases?holder=h%20one&state=active") == nil)
        #expect(RequestTarget.controlCharacter(in: "/v1/files/%E2%9C%93%7e") == nil)
        #expect(RequestTarget.controlCharacter(in: "/a%2") == nil)
        #expect(RequestTarget.controlCharacter(in: "/a%") == nil)
        #expect(RequestTarget.controlCharacter(in: "/v1/pins/pin_%00abc") == .path)
        #expect(RequestTarget.controlCharacter(in: "/healthz%0Aforged") == .path)
        #expect(RequestTarget.controlCharacter(in: "/x%0d") == .path)
        #expect(RequestTarget.controlCharacter(in: "/x%1B") == .path)
        #expect(RequestTarget.controlCharacter(in: "/x%7F") == .path)
        #expect(RequestTarget.controlCharacter(in: "/x\u{1}") == .path)
        #expect(RequestTarget.controlCharacter(in: "/v1/leases?holder=a%00b") == .query)
        #expect(RequestTarget.controlCharacter(in: "/v1/leases?holder=a%0A") == .query)
    }
}
