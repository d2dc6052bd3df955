import PinCore
import PinJSON
import Testing

@testable import PinServer

@Suite("Paged lists: limit and cursor")
struct PageQueryTests {
    private static func request(_ query: [String: String]) -> HTTPRequest {
        HTTPRequest(method: "GET", path: "/v1/leases", query: query)
    }

    private static func problem(_ query: [String: String], list: String = "leases") -> Problem? {
        do {
            _ = try PageQuery.decode(request(query), list: list)
            return nil
        } catch {
            return error
        }
    }

    @Test("base64url decodes what it encodes, and nothing else")
    func base64URLRoundTrip() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + length) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.decode("a") == nil)  // no encoding has this length
        #expect(Base64URL.decode("ab=") == nil)  // no padding
        #expect(Base64URL.decode("a+b/") == nil)  // standard alphabet
        #expect(Base64URL.decode("eB") == nil)  // leftover bits set: "eA" is the encoding of "x"
        #expect(Base64URL.decode("eA") == Array("x".utf8))
    }

    @Test("a cursor answered by a list leads back to the same key")
    func cursorRoundTrip() throws {
        for key in ["lease_01a2b3", "2026-12-01T00:00:00Z pin_ab", "data:dir/ä b.bin", "000000000012"] {
            let cursor = PageQuery.cursor(list: "leases", next: key)
            #expect(
                cursor.utf8.allSatisfy { $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "/") }
            )
            let page = try PageQuery.decode(Self.request(["cursor": cursor, "limit": "10"]), list: "leases").page
            #expect(page == PageRequest(limit: 10, after: key))
        }
        let page = try PageQuery.decode(Self.request([:]), list: "leases").page
        #expect(page == PageRequest(limit: PageQuery.defaultLimit, after: nil))
        #expect(try PageQuery.decode(Self.request(["limit": "10000"]), list: "leases").page.limit == 10_000)
    }

    @Test("a limit out of range, or a cursor of another list or of no list, is 422 invalid-query")
    func invalidValues() throws {
        for limit in ["0", "10001", "-1", "abc", "", "1e3", " 5", "00000001000", "9999999999999999999999"] {
            let problem = try #require(Self.problem(["limit": limit]), "limit \(limit.debugDescription)")
            #expect(
                problem.status == 422 && problem.code == "invalid-query" && problem.extensions["parameter"] == "limit")
        }
        let otherList = PageQuery.cursor(list: "pins", next: "x")
        for cursor in [
            "", "!!!", "a", otherList, Base64URL.encode(Array("leases:".utf8)), Base64URL.encode([0xFF, 0xFE]),
        ] {
            let problem = try #require(Self.problem(["cursor": cursor]), "cursor \(cursor.debugDescription)")
            #expect(
                problem.status == 422 && problem.code == "invalid-query" && problem.extensions["parameter"] == "cursor")
        }
    }

    @Test("next_cursor is added only when more items follow")
    func nextCursor() {
        let json: JSON = ["items": .array([])]
        #expect(PageQuery.paged(json, list: "files", next: nil) == json)
        #expect(
            PageQuery.paged(json, list: "files", next: "a")
                == ["items": .array([]), "next_cursor": .string(PageQuery.cursor(list: "files", next: "a"))])
    }
}
