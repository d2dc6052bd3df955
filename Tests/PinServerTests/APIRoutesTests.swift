import Glibc
import LinuxFS
import Logging
import PinAssembly
import PinCore
import PinJSON
import Testing

@testable import PinServer

/// The real v1 route table on a real core over a temporary root.
@Suite("API routes")
struct APIRoutesTests {
    /// A core of its own over a fresh state directory and root, for one test: ``close()``
    /// stops the core's threads and removes the directory.
    struct Fixture: Sendable {
        let dispatcher: RequestDispatcher
        let adminToken: String
        /// The directory of the root `data` (on the filesystem of /tmp).
        let dataDirectory: String
        /// The directory of the root `shm` (/dev/shm), when /dev/shm is a tmpfs.
        let shmDirectory: String?
        private let core: PinCoreService
        private let directory: TemporaryDirectory

        init() throws {
            let directory = TemporaryDirectory()
            mkdir(directory.file("data"), 0o755)
            mkdir(directory.file("state"), 0o700)
            var roots = [RootSpec(name: "data", path: directory.file("data"))]
            let shmDirectory = APIRoutesTests.tmpfsDirectory()
            if let shmDirectory { roots.append(RootSpec(name: "shm", path: shmDirectory)) }
            let core: PinCoreService
            do {
                core = try PinCoreService(
                    configuration: CoreConfiguration(roots: roots, stateDirectory: directory.file("state")),
                    logger: .test)
            } catch {
                directory.remove()
                throw error
            }
            do {
                let tokens = try TokenStore.load(
                    tokensFile: nil, stateDirectory: directory.file("state"), logger: .test)
                adminToken = try #require(directory.read("state/admin.token")?.trimmingWhitespace)
                dispatcher = RequestDispatcher(core: core, tokens: tokens, logger: .test)
            } catch {
                core.shutdown()
                directory.remove()
                throw error
            }
            self.core = core
            self.directory = directory
            self.shmDirectory = shmDirectory
            dataDirectory = directory.file("data")
        }

        /// Sends a request with the admin token; `body` is sent as JSON.
        func send(_ method: String, _ path: String, _ body: String? = nil) -> HTTPResponse {
            dispatcher.respond(
                to: HTTPRequest(
                    method: method, path: path, contentType: body.map { _ in "application/json" },
                    authorization: "Bearer \(adminToken)", body: Array((body ?? "").utf8)))
        }

        func close() {
            core.shutdown()
            directory.remove()
        }
    }

    /// /dev/shm when it is a tmpfs (where writable long-term pins work). Tests put uniquely
    /// named files there and remove them.
    static func tmpfsDirectory() -> String? {
        let mounts =
            (try? SmallFile.read("/proc/self/mounts", limit: 1 << 20)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let isTmpfs = mounts.split(separator: "\n").contains {
            $0.split(separator: " ").dropFirst().prefix(2).elementsEqual(["/dev/shm", "tmpfs"])
        }
        return isTmpfs ? "/dev/shm" : nil
    }

    static let adminRoutes = [
        ("POST", "/v1/files/inspect"), ("POST", "/v1/files/prepare"), ("POST", "/v1/files/lock-immutable"),
        ("POST", "/v1/files/unlock"), ("GET", "/v1/files"), ("GET", "/v1/operations/abc"),
        ("DELETE", "/v1/operations/abc"),
        ("POST", "/v1/pins"), ("GET", "/v1/pins"), ("GET", "/v1/pins/pin_abc"), ("DELETE", "/v1/pins/pin_abc"),
    ]

    @Test("every files, operations and pins route needs a token", arguments: adminRoutes)
    func needsToken(method: String, path: String) throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        #expect(fixture.dispatcher.respond(to: HTTPRequest(method: method, path: path)).status == 401)
    }

    @Test("holder tokens are forbidden on every files, operations and pins route", arguments: adminRoutes)
    func holderForbidden(method: String, path: String) throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let holders = TokenStore(
            entries: [.init(token: Array("holder-token".utf8), principal: Principal(role: .holder, holder: "h"))],
            tokensFile: nil, adminTokenPath: nil, logger: .test)
        let dispatcher = RequestDispatcher(router: fixture.dispatcher.router, tokens: holders, logger: .test)
        #expect(
            dispatcher.respond(to: HTTPRequest(method: method, path: path, authorization: "Bearer holder-token")).status
                == 403)
    }

    @Test("health and readiness answer without a token")
    func health() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let health = fixture.dispatcher.respond(to: HTTPRequest(method: "GET", path: "/healthz"))
        #expect(health.status == 200)
        #expect(health.jsonObject == ["status": "ok"])
        let ready = fixture.dispatcher.respond(to: HTTPRequest(method: "GET", path: "/readyz"))
        #expect(ready.status == 200)
        #expect(ready.jsonObject?["status"] == "ready")
        #expect(ready.jsonObject?["ready"] == true)
        let checks = ready.jsonObject?["checks"]?.arrayValue ?? []
        #expect(checks.compactMap { $0.objectValue?["name"]?.stringValue } == ["draining", "roots", "state"])
        #expect(checks.allSatisfy { $0.objectValue?["ok"] == true })
    }

    @Test("readiness is 503 naming the roots check while a root's path is not the directory the daemon opened")
    func readinessRoots() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let moved = fixture.dataDirectory + ".moved"
        #expect(rename(fixture.dataDirectory, moved) == 0)
        var answers = [fixture.dispatcher.respond(to: HTTPRequest(method: "GET", path: "/readyz"))]
        // Another directory at the root's path: it opens, but is not the one the daemon holds.
        mkdir(fixture.dataDirectory, 0o755)
        answers.append(fixture.dispatcher.respond(to: HTTPRequest(method: "GET", path: "/readyz")))
        rmdir(fixture.dataDirectory)
        #expect(rename(moved, fixture.dataDirectory) == 0)
        for answer in answers {
            #expect(answer.status == 503)
            #expect(answer.jsonObject?["ready"] == false)
            let checks = answer.jsonObject?["checks"]?.arrayValue?.compactMap(\.objectValue) ?? []
            #expect(checks.filter { $0["ok"] == false }.compactMap { $0["name"]?.stringValue } == ["roots"])
        }
        #expect(fixture.dispatcher.respond(to: HTTPRequest(method: "GET", path: "/readyz")).status == 200)
    }

    @Test("GET /v1/version needs a token and reports the build info and the kernel")
    func version() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        #expect(fixture.dispatcher.respond(to: HTTPRequest(method: "GET", path: "/v1/version")).status == 401)
        let version = fixture.send("GET", "/v1/version")
        #expect(version.status == 200)
        let document = try #require(version.jsonObject)
        #expect(document.keys == ["version", "commit", "build_date", "swift_version", "kernel"])
        #expect(document["version"]?.stringValue?.isEmpty == false)
        #expect(document["kernel"]?.stringValue == kernelRelease)
    }

    @Test("the file list is an items array")
    func list() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let response = fixture.dispatcher.respond(
            to: HTTPRequest(method: "GET", path: "/v1/files", authorization: "Bearer \(fixture.adminToken)"))
        #expect(response.status == 200)
        #expect(response.jsonObject?["items"]?.arrayValue != nil)
    }

    @Test("an unknown operation is 404 operation-not-found")
    func unknownOperation() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let response = fixture.dispatcher.respond(
            to: HTTPRequest(method: "GET", path: "/v1/operations/nope", authorization: "Bearer \(fixture.adminToken)"))
        #expect(response.status == 404)
        #expect(response.jsonObject?["type"] == "https://pinlease.dev/problems/operation-not-found")
    }

    @Test("body problems come before the core is called")
    func bodyChecked() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let request = HTTPRequest(
            method: "POST", path: "/v1/files/prepare", contentType: "application/json",
            authorization: "Bearer \(fixture.adminToken)", body: Array(#"{"path":"a","size":"64MiB","zap":1}"#.utf8))
        let response = fixture.dispatcher.respond(to: request)
        #expect(response.status == 422)
        #expect(response.jsonObject?["field"] == "zap")
    }

    @Test("an unknown pin is 404 pin-not-found for GET and DELETE")
    func unknownPin() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        for method in ["GET", "DELETE"] {
            let response = fixture.send(method, "/v1/pins/pin_nope")
            #expect(response.status == 404)
            #expect(response.jsonObject?["type"] == "https://pinlease.dev/problems/pin-not-found")
            #expect(response.jsonObject?["pin_id"] == "pin_nope")
        }
    }

    @Test("the pin list is an items array and the budget in use")
    func pinList() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let response = fixture.send("GET", "/v1/pins")
        #expect(response.status == 200)
        let body = try #require(response.jsonObject)
        #expect(body["items"]?.arrayValue != nil)
        let budget = try #require(body["budget"]?.objectValue)
        #expect(Set(budget.keys) == ["budget_bytes", "pinned_bytes", "max_pins", "pins"])
        #expect((budget["budget_bytes"]?.int64Value ?? 0) > 0)
        #expect((1...4096).contains(budget["max_pins"]?.int64Value ?? 0))
    }

    @Test(
        "pin body problems come before the core is called",
        arguments: [
            (#"{"path":"missing.bin"}"#, "access"),
            (#"{"path":"missing.bin","access":"read","longterm":"maybe"}"#, "longterm"),
            (#"{"path":"missing.bin","access":"read","offset":-1}"#, "offset"),
            (#"{"path":"missing.bin","access":"read","size":1}"#, "size"),
        ])
    func pinBodyChecked(body: String, field: String) throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let response = fixture.send("POST", "/v1/pins", body)
        #expect(response.status == 422)
        #expect(response.jsonObject?["type"] == "https://pinlease.dev/problems/invalid-body")
        #expect(response.jsonObject?["field"] == .string(field))
    }

    @Test("lock body problems come before the core is called")
    func lockBodyChecked() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let response = fixture.send("POST", "/v1/files/lock-immutable", #"{"path":"missing.bin","writers":"everyone"}"#)
        #expect(response.status == 422)
        #expect(response.jsonObject?["field"] == "writers")
    }

    @Test("a pin of a file the daemon has not locked is 409 not-locked")
    func pinUnlocked() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let prepared = fixture.send(
            "POST", "/v1/files/prepare", #"{"path":"unlocked.bin","size":"64KiB","create":true}"#)
        #expect(prepared.status == 200)
        defer { unlink(fixture.dataDirectory + "/unlocked.bin") }
        let response = fixture.send("POST", "/v1/pins", #"{"path":"unlocked.bin","access":"read"}"#)
        #expect(response.status == 409)
        #expect(response.jsonObject?["type"] == "https://pinlease.dev/problems/not-locked")
    }

    /// The compat rows every lock and tracked file reports.
    static let compatRows: Set<String> = [
        "immutable_flag", "existing_writers_blocked", "reflink_source_possible", "lease_break_recall",
        "longterm_pin_write", "longterm_pin_read", "map_sync", "dax", "pinned_writes",
    ]

    static func checkCompat(_ compat: JSON?) throws {
        let rows = try #require(compat?.objectValue)
        #expect(Set(rows.keys) == compatRows)
        for name in rows.keys {
            let row = try #require(rows[name]?.objectValue, "\(name)")
            #expect(Set(row.keys) == ["holds", "reason", "probed"], "\(name)")
            #expect(row["holds"]?.boolValue != nil && row["probed"]?.boolValue != nil, "\(name)")
            #expect(row["reason"]?.stringValue?.isEmpty == false, "\(name)")
        }
    }

    @Test(
        """
        write pin with a long-term pin on tmpfs: lock with writers daemon, 201 with Location, list, show, \
        delete, unlock
        """,
        .enabled(if: getuid() == 0, "chattr +i needs CAP_LINUX_IMMUTABLE"))
    func writePinLifecycle() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let shm = try #require(fixture.shmDirectory, "/dev/shm is not a tmpfs")
        let name = "pinserver-test-\(getpid())-w.bin"
        let path = "shm:\(name)"
        let prepared = fixture.send("POST", "/v1/files/prepare", #"{"path":"\#(path)","size":"4MiB","create":true}"#)
        try #require(prepared.status == 200)
        defer { unlink(shm + "/" + name) }

        let lock = fixture.send("POST", "/v1/files/lock-immutable", #"{"path":"\#(path)","writers":"daemon"}"#)
        try #require(lock.status == 200, "\(String(decoding: lock.body, as: UTF8.self))")
        defer { _ = fixture.send("POST", "/v1/files/unlock", #"{"path":"\#(path)"}"#) }
        let report = try #require(lock.jsonObject)
        #expect(report["writers"] == "daemon")
        #expect(report["read_lease"] == false)
        try Self.checkCompat(report["compat"])
        #expect(
            fixture.send("POST", "/v1/files/lock-immutable", #"{"path":"\#(path)","writers":"daemon"}"#).status == 200)
        let otherMode = fixture.send("POST", "/v1/files/lock-immutable", #"{"path":"\#(path)"}"#)
        #expect(otherMode.status == 409)
        #expect(otherMode.jsonObject?["type"] == "https://pinlease.dev/problems/file-locked")

        let created = fixture.send(
            "POST", "/v1/pins", #"{"path":"\#(path)","length":"4MiB","access":"write","longterm":true}"#)
        try #require(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
        let pin = try #require(created.jsonObject)
        let id = try #require(pin["id"]?.stringValue)
        defer { _ = fixture.send("DELETE", "/v1/pins/\(id)") }
        #expect(created.header("Location") == "/v1/pins/\(id)")
        #expect(created.header("Content-Type") == "application/json")
        #expect(pin["path"] == .string(path))
        #expect(pin["offset"] == 0)
        #expect(pin["length"] == .int(4 << 20))
        #expect(pin["access"] == "write")
        #expect(pin["state"] == "active")
        #expect(pin["resident_bytes"] == .int(4 << 20))
        #expect(pin["auto_pin"] == false)
        #expect(pin["leases"] == [])
        let longTerm = try #require(pin["longterm"]?.objectValue)
        #expect(longTerm["requested"] == true)
        #expect(longTerm["held"] == true)
        #expect((longTerm["registered_buffers"]?.int64Value ?? 0) > 0)

        let shown = fixture.send("GET", "/v1/pins/\(id)")
        #expect(shown.status == 200)
        #expect(shown.jsonObject?["id"] == .string(id))
        let list = try #require(fixture.send("GET", "/v1/pins").jsonObject)
        #expect(list["items"]?.arrayValue?.contains { $0.objectValue?["id"] == .string(id) } == true)
        #expect((list["budget"]?.objectValue?["pinned_bytes"]?.int64Value ?? 0) >= 4 << 20)
        let files = try #require(fixture.send("GET", "/v1/files").jsonObject?["items"]?.arrayValue)
        let tracked = try #require(files.first { $0.objectValue?["path"] == .string(path) }?.objectValue)
        #expect(tracked["writers"] == "daemon")
        #expect(tracked["pins"] == [.string(id)])
        try Self.checkCompat(tracked["compat"])

        let unlockWithPin = fixture.send("POST", "/v1/files/unlock", #"{"path":"\#(path)"}"#)
        #expect(unlockWithPin.status == 409)
        #expect(unlockWithPin.jsonObject?["type"] == "https://pinlease.dev/problems/pins-exist")
        #expect(unlockWithPin.jsonObject?["pin_ids"] == [.string(id)])

        let deleted = fixture.send("DELETE", "/v1/pins/\(id)")
        #expect(deleted.status == 204)
        #expect(deleted.body.isEmpty)
        #expect(fixture.send("GET", "/v1/pins/\(id)").status == 404)
        #expect(fixture.send("DELETE", "/v1/pins/\(id)").status == 404)
        #expect(fixture.send("POST", "/v1/files/unlock", #"{"path":"\#(path)"}"#).status == 200)
    }

    @Test(
        "a lock with writers none: read pins only, and no long-term pin",
        .enabled(if: getuid() == 0, "chattr +i needs CAP_LINUX_IMMUTABLE"))
    func readPinOnNoneLock() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let prepared = fixture.send("POST", "/v1/files/prepare", #"{"path":"r.bin","size":"1MiB","create":true}"#)
        try #require(prepared.status == 200)
        defer { unlink(fixture.dataDirectory + "/r.bin") }
        let lock = fixture.send("POST", "/v1/files/lock-immutable", #"{"path":"r.bin"}"#)
        try #require(lock.status == 200, "\(String(decoding: lock.body, as: UTF8.self))")
        defer { _ = fixture.send("POST", "/v1/files/unlock", #"{"path":"r.bin"}"#) }
        #expect(lock.jsonObject?["writers"] == "none")
        #expect(lock.jsonObject?["read_lease"] == true)

        let write = fixture.send("POST", "/v1/pins", #"{"path":"r.bin","access":"write"}"#)
        #expect(write.status == 409)
        #expect(write.jsonObject?["type"] == "https://pinlease.dev/problems/write-needs-daemon-writers")
        let longTerm = fixture.send("POST", "/v1/pins", #"{"path":"r.bin","access":"read","longterm":true}"#)
        #expect(longTerm.status == 422)
        #expect(longTerm.jsonObject?["type"] == "https://pinlease.dev/problems/longterm-refused")
        let unaligned = fixture.send("POST", "/v1/pins", #"{"path":"r.bin","access":"read","offset":100}"#)
        #expect(unaligned.status == 422)
        #expect(unaligned.jsonObject?["type"] == "https://pinlease.dev/problems/unaligned-range")
        #expect(unaligned.jsonObject?["page_size"]?.int64Value == Int64(sysconf(Int32(_SC_PAGESIZE))))
        let outside = fixture.send("POST", "/v1/pins", #"{"path":"r.bin","access":"read","offset":0,"length":"2MiB"}"#)
        #expect(outside.status == 422)
        #expect(outside.jsonObject?["type"] == "https://pinlease.dev/problems/invalid-range")
        #expect(outside.jsonObject?["size"] == .int(1 << 20))

        let created = fixture.send(
            "POST", "/v1/pins", #"{"path":"r.bin","offset":0,"length":65536,"access":"read","longterm":"if-possible"}"#)
        try #require(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
        let id = try #require(created.jsonObject?["id"]?.stringValue)
        defer { _ = fixture.send("DELETE", "/v1/pins/\(id)") }
        #expect(created.header("Location") == "/v1/pins/\(id)")
        let longTermReport = try #require(created.jsonObject?["longterm"]?.objectValue)
        #expect(longTermReport["requested"] == "if-possible")
        #expect(longTermReport["held"] == false)
        #expect(longTermReport["reason"]?.stringValue?.isEmpty == false)
        #expect(created.jsonObject?["resident_bytes"] == 65536)
        #expect(fixture.send("DELETE", "/v1/pins/\(id)").status == 204)
    }
}
