import PinJSON
import Testing

@Suite("PinJSON")
struct PinJSONTests {
    @Test("every kind of value survives encode then parse")
    func roundTrip() throws {
        let value: JSON = [
            "null": nil, "true": true, "false": false, "int": 42, "negative": -7, "double": 1.5,
            "string": "héllo \"quoted\" \\ / \n\t ✓ 🎉", "empty": "", "array": [1, "two", [3.25], [:]],
            "object": ["nested": ["deeper": []]],
        ]
        #expect(try JSONCodec.parse(JSONCodec.encode(value)) == value)
        #expect(try JSONCodec.parse(JSONCodec.encode(value, pretty: true)) == value)
    }

    @Test("top-level scalars parse and encode")
    func scalars() throws {
        #expect(try JSONCodec.parse("3") == .int(3))
        #expect(try JSONCodec.parse("\"x\"") == .string("x"))
        #expect(try JSONCodec.parse("null") == .null)
        #expect(JSONCodec.encode(.bool(true)) == "true")
        #expect(JSONCodec.encode("a\"b") == #""a\"b""#)
    }

    @Test("strings keep embedded NUL characters")
    func nulInString() throws {
        let value = JSON.string("a\u{0}b")
        #expect(JSONCodec.encode(value) == #""a\u0000b""#)
        #expect(try JSONCodec.parse(JSONCodec.encode(value)) == value)
    }

    @Test("64-bit integers are exact at both ends")
    func largeIntegers() throws {
        let value: JSON = ["max": .int(.max), "min": .int(.min), "size": .int(1 << 40)]
        let text = JSONCodec.encode(value)
        #expect(text == #"{"max":9223372036854775807,"min":-9223372036854775808,"size":1099511627776}"#)
        #expect(try JSONCodec.parse(text) == value)
        #expect(throws: JSONParseError.self) { try JSONCodec.parse("18446744073709551616") }
    }

    @Test("objects encode in insertion order, not sorted")
    func orderedKeys() throws {
        var object: JSONObject = ["zeta": 1, "alpha": 2]
        object["middle"] = 3
        #expect(object.keys == ["zeta", "alpha", "middle"])
        #expect(JSONCodec.encode(.object(object)) == #"{"zeta":1,"alpha":2,"middle":3}"#)
        object["zeta"] = 9
        #expect(object.keys == ["zeta", "alpha", "middle"])
        object["alpha"] = nil
        #expect(object.keys == ["zeta", "middle"])
        #expect(object.count == 2)
        let parsed = try JSONCodec.parse(#"{"b":1,"a":2,"c":{"y":1,"x":2}}"#)
        #expect(parsed.objectValue?.keys == ["b", "a", "c"])
        #expect(parsed.objectValue?["c"]?.objectValue?.keys == ["y", "x"])
        #expect(JSONCodec.encode(parsed) == #"{"b":1,"a":2,"c":{"y":1,"x":2}}"#)
    }

    @Test("object equality ignores key order")
    func objectEquality() {
        #expect(JSONObject([("a", 1), ("b", 2)]) == JSONObject([("b", 2), ("a", 1)]))
        #expect(JSONObject([("a", 1)]) != JSONObject([("a", 2)]))
    }

    @Test("parse errors carry jansson's line and column")
    func parseErrorLocation() {
        do {
            _ = try JSONCodec.parse("{\n  \"a\": 1,\n  \"b\": tru\n}")
            Issue.record("malformed JSON parsed")
        } catch {
            #expect(error.line == 3)
            #expect(error.column > 0)
            #expect(error.position > 0)
            #expect(!error.message.isEmpty)
        }
    }

    @Test("empty input, trailing garbage and duplicate keys are errors")
    func rejectedInputs() {
        #expect(throws: JSONParseError.self) { try JSONCodec.parse([UInt8]()) }
        #expect(throws: JSONParseError.self) { try JSONCodec.parse("{} x") }
        #expect(throws: JSONParseError.self) { try JSONCodec.parse(#"{"a":1,"a":2}"#) }
    }

    @Test("doubles stay doubles; non-finite encode as null")
    func doubles() throws {
        #expect(try JSONCodec.parse("2.5") == .double(2.5))
        #expect(try JSONCodec.parse("1e3") == .double(1000))
        #expect(try JSONCodec.parse("0.1").doubleValue == 0.1)
        #expect(JSONCodec.encode(.double(.infinity)) == "null")
        #expect(JSONCodec.encode(.double(.nan)) == "null")
    }

    @Test("accessors return values only for their own case")
    func accessors() {
        let value: JSON = ["s": "x", "i": 3, "b": false, "a": [1], "o": [:]]
        let object = value.objectValue
        #expect(object?["s"]?.stringValue == "x")
        #expect(object?["i"]?.int64Value == 3)
        #expect(object?["i"]?.stringValue == nil)
        #expect(object?["b"]?.boolValue == false)
        #expect(object?["a"]?.arrayValue == [1])
        #expect(object?["o"]?.objectValue == JSONObject())
        #expect(JSON.double(1).int64Value == nil)
        #expect(JSON.null.isNull)
    }

    @Test("concurrent parsing and encoding is safe")
    func concurrentUse() async throws {
        let text = JSONCodec.encode([
            "items": .array((0..<100).map { .object(["n": .int(Int64($0)), "s": .string("v\($0)")]) })
        ])
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<50 where JSONCodec.encode(try JSONCodec.parse(text)) != text { return false }
                    return true
                }
            }
            for try await ok in group { #expect(ok) }
        }
    }
}
