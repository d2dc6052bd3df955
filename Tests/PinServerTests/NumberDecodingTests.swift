import PinCore
import PinJSON
import Testing

@testable import PinServer

/// Numbers in request bodies as the OpenAPI document (JSON Schema `type: integer`) reads them:
/// a real without a fraction is an integer; an integer beyond 64 bits is a refused value (422
/// naming the member), not malformed JSON (400).
@Suite("Request body numbers")
struct NumberDecodingTests {
    static func request(_ body: String) -> HTTPRequest {
        HTTPRequest(method: "POST", path: "/v1/x", contentType: "application/json", body: Array(body.utf8))
    }

    static func problem<T>(_ decode: () throws(Problem) -> T) -> Problem? {
        do {
            _ = try decode()
            return nil
        } catch {
            return error
        }
    }

    @Test("a real without a fraction is the integer", arguments: ["5176.0", "5176", "5.176e3"])
    func integralReal(number: String) throws {
        let revoke = try LeaseRevokeBody.decode(Self.request(#"{"grace_s":\#(number)}"#))
        #expect(revoke.graceSeconds == 5176)
        let pinBody = #"{"path":"a","access":"read","offset":\#(number),"length":\#(number)}"#
        let pin = try PinRequestBody.decode(Self.request(pinBody))
        #expect(pin.request.offset == 5176 && pin.request.length == 5176)
        let prepare = try PrepareRequestBody.decode(Self.request(#"{"path":"a","size":\#(number)}"#))
        #expect(prepare.request.size == 5176)
    }

    @Test("a fraction or a real beyond 64 bits is still not an integer", arguments: ["5176.5", "1e300", "-0.5"])
    func fraction(number: String) throws {
        let problem = try #require(
            Self.problem { () throws(Problem) in
                try LeaseRevokeBody.decode(Self.request(#"{"grace_s":\#(number)}"#))
            })
        #expect(problem.status == 422 && problem.code == "invalid-body")
        #expect(problem.extensions["field"] == "grace_s")
    }

    @Test(
        "an integer beyond 64 bits is 422 naming the member",
        arguments: [
            (#"{"grace_s":18446744073709551616}"#, "grace_s"),
            (#"{"reason":"a:b","grace_s":-9223372036854775809}"#, "grace_s"),
            (#"{"re\"a:son":"x", "grace_s" : 99999999999999999999999}"#, "grace_s"),
        ])
    func beyond64Bits(body: String, field: String) throws {
        let problem = try #require(
            Self.problem { () throws(Problem) in
                try LeaseRevokeBody.decode(Self.request(body))
            })
        #expect(problem.status == 422)
        #expect(problem.code == "invalid-body")
        #expect(problem.extensions["field"] == .string(field))
        #expect(problem.detail.contains("out of range"))
    }

    @Test("malformed JSON is still 400")
    func malformed() throws {
        let problem = try #require(
            Self.problem { () throws(Problem) in
                try LeaseRevokeBody.decode(Self.request(#"{"grace_s":12,}"#))
            })
        #expect(problem.status == 400 && problem.code == "invalid-json")
    }
}
