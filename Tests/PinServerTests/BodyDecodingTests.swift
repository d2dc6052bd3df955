import PinCore
import PinJSON
import Testing

@testable import PinServer

@Suite("Request body decoding")
struct BodyDecodingTests {
    static func request(_ body: String, contentType: String? = "application/json") -> HTTPRequest {
        HTTPRequest(method: "POST", path: "/v1/files/x", contentType: contentType, body: Array(body.utf8))
    }

    /// The problem thrown by `decode`, or nil when it succeeded.
    static func problem<T>(_ decode: () throws(Problem) -> T) -> Problem? {
        do {
            _ = try decode()
            return nil
        } catch {
            return error
        }
    }

    @Test("a path body decodes")
    func pathBody() throws {
        #expect(
            try PathRequestBody.decode(Self.request(#"{"path":"data:a.bin"}"#)) == PathRequestBody(path: "data:a.bin"))
    }

    @Test("path bodies reject unknown fields, naming them")
    func pathUnknownField() throws {
        let problem = try #require(
            Self.problem { () throws(Problem) in try PathRequestBody.decode(Self.request(#"{"path":"a","paht":"b"}"#)) }
        )
        #expect(problem.status == 422)
        #expect(problem.code == "invalid-body")
        #expect(problem.extensions["field"] == "paht")
        #expect(problem.detail.contains("paht"))
    }

    @Test("path bodies reject a non-string path, naming field and type")
    func pathWrongType() throws {
        for body in [#"{"path":7}"#, #"{"path":true}"#, #"{"path":["a"]}"#, #"{"path":{}}"#] {
            let problem = try #require(
                Self.problem { () throws(Problem) in try PathRequestBody.decode(Self.request(body)) })
            #expect(problem.status == 422)
            #expect(problem.extensions["field"] == "path")
            #expect(problem.extensions["expected"] == "string")
            #expect(problem.detail.contains("\"path\"") && problem.detail.contains("string"))
        }
    }

    @Test("a missing or null path is 422")
    func pathMissing() throws {
        for body in ["{}", #"{"path":null}"#] {
            let problem = try #require(
                Self.problem { () throws(Problem) in try PathRequestBody.decode(Self.request(body)) })
            #expect(problem.status == 422)
            #expect(problem.extensions["field"] == "path")
        }
    }

    @Test("malformed JSON is 400 with line and column")
    func malformed() throws {
        let problem = try #require(
            Self.problem { () throws(Problem) in try PathRequestBody.decode(Self.request("{\n\"path\": \"a\",\n}")) })
        #expect(problem.status == 400)
        #expect(problem.code == "invalid-json")
        #expect(problem.extensions["line"] == 3)
        #expect(problem.extensions["column"]?.int64Value != nil)
        #expect(problem.detail.contains("line 3"))
    }

    @Test("a body that is not an object is 422", arguments: ["[]", "\"a.bin\"", "1", "null"])
    func notObject(body: String) throws {
        let problem = try #require(
            Self.problem { () throws(Problem) in try PathRequestBody.decode(Self.request(body)) })
        #expect(problem.status == 422)
        #expect(problem.code == "invalid-body")
    }

    @Test("an empty body is a clear 422")
    func empty() throws {
        for contentType in [nil, "application/json"] {
            let problem = try #require(
                Self.problem { () throws(Problem) in
                    try PathRequestBody.decode(Self.request("", contentType: contentType))
                })
            #expect(problem.status == 422)
            #expect(problem.detail.contains("empty"))
        }
    }

    @Test(
        "JSON media types are accepted",
        arguments: ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\""])
    func acceptedMediaTypes(contentType: String) throws {
        #expect(try PathRequestBody.decode(Self.request(#"{"path":"a"}"#, contentType: contentType)).path == "a")
    }

    @Test(
        "other media types are 415",
        arguments: [
            nil, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1",
            "application/jsonx",
        ])
    func rejectedMediaTypes(contentType: String?) throws {
        let problem = try #require(
            Self.problem { () throws(Problem) in
                try PathRequestBody.decode(Self.request(#"{"path":"a"}"#, contentType: contentType))
            })
        #expect(problem.status == 415)
        #expect(problem.code == "unsupported-media-type")
    }

    @Test("prepare defaults: fill, no create, synchronous, keep size")
    func prepareDefaults() throws {
        let body = try PrepareRequestBody.decode(Self.request(#"{"path":"a.bin"}"#))
        #expect(body.request.path == "a.bin")
        #expect(body.request.size == nil)
        #expect(body.request.mode == .fill)
        #expect(body.request.create == false)
        #expect(body.isAsync == false)
    }

    @Test("prepare takes every field; size as a string with a unit")
    func prepareFull() throws {
        let body = try PrepareRequestBody.decode(
            Self.request(#"{"path":"a.bin","size":"64MiB","mode":"wipe","create":true,"async":true}"#))
        #expect(body.request.size == 64 << 20)
        #expect(body.request.mode == .wipe)
        #expect(body.request.create)
        #expect(body.isAsync)
    }

    @Test("prepare size as an integer and as a plain number string")
    func prepareIntegerSize() throws {
        #expect(try PrepareRequestBody.decode(Self.request(#"{"path":"a","size":4096}"#)).request.size == 4096)
        #expect(try PrepareRequestBody.decode(Self.request(#"{"path":"a","size":0}"#)).request.size == 0)
        #expect(try PrepareRequestBody.decode(Self.request(#"{"path":"a","size":"1 GiB"}"#)).request.size == 1 << 30)
        #expect(try PrepareRequestBody.decode(Self.request(#"{"path":"a","size":null}"#)).request.size == nil)
    }

    @Test(
        "prepare rejects bad sizes",
        arguments: [
            (#""64XB""#, "invalid-size"), ("-1", "invalid-size"), ("1.5", "invalid-body"), ("true", "invalid-body"),
            ("[64]", "invalid-body"),
        ])
    func prepareBadSize(size: String, code: String) throws {
        let problem = try #require(
            Self.problem { () throws(Problem) in
                try PrepareRequestBody.decode(Self.request(#"{"path":"a","size":\#(size)}"#))
            })
        #expect(problem.status == 422)
        #expect(problem.code == code)
        #expect(problem.extensions["field"] == "size")
    }

    @Test(
        "prepare rejects unknown fields and wrong types",
        arguments: [
            (#"{"path":"a","sync":true}"#, "sync"), (#"{"path":"a","mode":"zero"}"#, "mode"),
            (#"{"path":"a","mode":1}"#, "mode"),
            (#"{"path":"a","create":"yes"}"#, "create"), (#"{"path":"a","async":1}"#, "async"),
            (#"{"size":1}"#, "path"),
        ])
    func prepareInvalid(body: String, field: String) throws {
        let problem = try #require(
            Self.problem { () throws(Problem) in try PrepareRequestBody.decode(Self.request(body)) })
        #expect(problem.status == 422)
        #expect(problem.code == "invalid-body")
        #expect(problem.extensions["field"] == .string(field))
    }
}

@Suite("Lock and pin request bodies")
struct PinBodyDecodingTests {
    static func problem<T>(_ decode: () throws(Problem) -> T) -> Problem? {
        BodyDecodingTests.problem(decode)
    }

    static func request(_ body: String) -> HTTPRequest {
        BodyDecodingTests.request(body)
    }

    @Test("lock writers default to none; daemon and none are accepted")
    func lockWriters() throws {
        #expect(
            try LockRequestBody.decode(Self.request(#"{"path":"a.bin"}"#))
                == LockRequestBody(path: "a.bin", writers: .none))
        #expect(try LockRequestBody.decode(Self.request(#"{"path":"a.bin","writers":null}"#)).writers == .none)
        #expect(try LockRequestBody.decode(Self.request(#"{"path":"a.bin","writers":"none"}"#)).writers == .none)
        #expect(try LockRequestBody.decode(Self.request(#"{"path":"a.bin","writers":"daemon"}"#)).writers == .daemon)
    }

    @Test(
        "lock rejects unknown writers, wrong types and unknown fields",
        arguments: [
            (#"{"path":"a","writers":"all"}"#, "writers"), (#"{"path":"a","writers":true}"#, "writers"),
            (#"{"path":"a","writers":["daemon"]}"#, "writers"), (#"{"path":"a","writer":"daemon"}"#, "writer"),
            (#"{"writers":"daemon"}"#, "path"),
        ])
    func lockInvalid(body: String, field: String) throws {
        let problem = try #require(
            Self.problem { () throws(Problem) in try LockRequestBody.decode(Self.request(body)) })
        #expect(problem.status == 422)
        #expect(problem.code == "invalid-body")
        #expect(problem.extensions["field"] == .string(field))
    }

    @Test("an unknown writers value names the allowed ones")
    func lockWritersChoices() throws {
        let problem = try #require(
            Self.problem { () throws(Problem) in
                try LockRequestBody.decode(Self.request(#"{"path":"a","writers":"all"}"#))
            })
        #expect(problem.extensions["expected"] == ["none", "daemon"])
        #expect(problem.detail.contains("\"daemon\""))
    }

    @Test("pin defaults: offset and length absent, no long-term pin")
    func pinDefaults() throws {
        let pin = try PinRequestBody.decode(Self.request(#"{"path":"a.bin","access":"read"}"#)).request
        #expect(pin.path == "a.bin")
        #expect(pin.offset == nil)
        #expect(pin.length == nil)
        #expect(pin.access == .read)
        #expect(pin.longTerm == .no)
    }

    @Test("pin takes every field; length as a size string")
    func pinFull() throws {
        let pin = try PinRequestBody.decode(
            Self.request(#"{"path":"data:a.bin","offset":4096,"length":"4MiB","access":"write","longterm":true}"#)
        ).request
        #expect(pin.path == "data:a.bin")
        #expect(pin.offset == 4096)
        #expect(pin.length == 4 << 20)
        #expect(pin.access == .write)
        #expect(pin.longTerm == .required)
    }

    @Test(
        "longterm is false, true or \"if-possible\"; null is false",
        arguments: [
            ("false", LongTermMode.no), ("true", .required), (#""if-possible""#, .ifPossible), ("null", .no),
        ])
    func pinLongTerm(value: String, mode: LongTermMode) throws {
        let body = #"{"path":"a","access":"read","longterm":\#(value)}"#
        #expect(try PinRequestBody.decode(Self.request(body)).request.longTerm == mode)
    }

    @Test("offset and length as integers, null as absent")
    func pinIntegers() throws {
        let pin = try PinRequestBody.decode(Self.request(#"{"path":"a","access":"read","offset":0,"length":8192}"#))
            .request
        #expect(pin.offset == 0)
        #expect(pin.length == 8192)
        let nulls = try PinRequestBody.decode(
            Self.request(#"{"path":"a","access":"read","offset":null,"length":null}"#)
        ).request
        #expect(nulls.offset == nil)
        #expect(nulls.length == nil)
    }

    @Test("a zero length reaches the core (which answers invalid-range)")
    func pinZeroLength() throws {
        #expect(
            try PinRequestBody.decode(Self.request(#"{"path":"a","access":"read","length":0}"#)).request.length == 0)
    }

    @Test(
        "pin rejects missing, unknown and mistyped fields",
        arguments: [
            (#"{"path":"a"}"#, "access", "invalid-body"),
            (#"{"path":"a","access":null}"#, "access", "invalid-body"),
            (#"{"path":"a","access":"execute"}"#, "access", "invalid-body"),
            (#"{"path":"a","access":"READ"}"#, "access", "invalid-body"),
            (#"{"path":"a","access":1}"#, "access", "invalid-body"),
            (#"{"access":"read"}"#, "path", "invalid-body"),
            (#"{"path":"a","access":"read","longterm":"maybe"}"#, "longterm", "invalid-body"),
            (#"{"path":"a","access":"read","longterm":"true"}"#, "longterm", "invalid-body"),
            (#"{"path":"a","access":"read","longterm":1}"#, "longterm", "invalid-body"),
            (#"{"path":"a","access":"read","offset":-4096}"#, "offset", "invalid-body"),
            (#"{"path":"a","access":"read","offset":"4096"}"#, "offset", "invalid-body"),
            (#"{"path":"a","access":"read","offset":4096.5}"#, "offset", "invalid-body"),
            (#"{"path":"a","access":"read","length":"lots"}"#, "length", "invalid-size"),
            (#"{"path":"a","access":"read","length":-1}"#, "length", "invalid-size"),
            (#"{"path":"a","access":"read","length":true}"#, "length", "invalid-body"),
            (#"{"path":"a","access":"read","auto_pin":true}"#, "auto_pin", "invalid-body"),
            (#"{"path":"a","access":"read","long_term":true}"#, "long_term", "invalid-body"),
        ])
    func pinInvalid(body: String, field: String, code: String) throws {
        let problem = try #require(Self.problem { () throws(Problem) in try PinRequestBody.decode(Self.request(body)) })
        #expect(problem.status == 422)
        #expect(problem.code == code)
        #expect(problem.extensions["field"] == .string(field))
    }

    @Test("a missing or unknown access names the choices")
    func pinAccessChoices() throws {
        for body in [#"{"path":"a"}"#, #"{"path":"a","access":"rw"}"#] {
            let problem = try #require(
                Self.problem { () throws(Problem) in try PinRequestBody.decode(Self.request(body)) })
            #expect(problem.extensions["expected"] == ["read", "write"])
            #expect(problem.detail.contains("\"read\"") && problem.detail.contains("\"write\""))
        }
    }

    @Test("a bad longterm names the choices")
    func pinLongTermChoices() throws {
        let problem = try #require(
            Self.problem { () throws(Problem) in
                try PinRequestBody.decode(Self.request(#"{"path":"a","access":"read","longterm":"maybe"}"#))
            })
        #expect(problem.extensions["expected"] == [false, true, "if-possible"])
        #expect(problem.detail.contains("if-possible"))
    }
}
