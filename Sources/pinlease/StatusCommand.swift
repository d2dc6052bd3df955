import ArgumentParser
import PinJSON
import PinleaseClient

/// `pinlease status`: health, readiness, pin budget and counts, in one view. Exits 0 when the
/// daemon is ready, 1 when it answers but is not ready, 7 when it cannot be reached.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show health, readiness, pin budget and counts of files, pins and leases.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let client = try global.client()
        var status: JSONObject = ["address": .string(client.address.description)]
        let health = try client.send("GET", "/healthz")
        status["health"] = health.isSuccess ? (health.json ?? .null) : .string("HTTP \(health.status)")
        let ready = try client.send("GET", "/readyz")
        status["ready"] = ready.json ?? .string("HTTP \(ready.status)")
        // GET /v1/status needs an admin token; without one, `counts` says why instead.
        let (budget, counts) = try Self.counts(client)
        if let budget { status["budget"] = budget }
        status["counts"] = counts
        global.printer.document(.object(status), idKey: "address")
        guard ready.isSuccess else {
            let why = ready.error.message
            throw ClientError(.other, "the daemon is not ready: \(why)")
        }
    }
}

extension StatusCommand {
    /// The pin budget and the counts of files, pins and leases (by state), from `GET /v1/status`
    /// (counted in the daemon's memory; no paging through the lists); a token that may not read
    /// them gets the reason instead of the counts.
    static func counts(_ client: DaemonClient) throws(ClientError) -> (budget: JSON?, counts: JSON) {
        let status: JSON
        do {
            status = try client.call("GET", "/v1/status")
        } catch {
            guard error.exitStatus == .unauthorized else { throw error }
            return (nil, .string(error.message))
        }
        let object = status.objectValue ?? [:]
        let counts: JSON = [
            "files": .int(total(object["files"])),
            "pins": .int(total(object["pins"])),
            "leases": object["leases"] ?? .object([:]),
        ]
        return (object["budget"], counts)
    }

    /// The sum of a group of counts by state (`{"locked": 2, "degraded": 0, ...}`).
    private static func total(_ group: JSON?) -> Int64 {
        (group?.objectValue?.pairs ?? []).reduce(0) { $0 + ($1.value.int64Value ?? 0) }
    }
}

/// `pinlease version`: the CLI's version (`client`, and what it was built from in `client_build`),
/// and the daemon's `GET /v1/version` document (`daemon`, null when it does not serve one).
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Show the CLI's and the daemon's versions.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        var document: JSONObject = [
            "client": .string(ClientVersion.current),
            "client_build": [
                "version": .string(ClientVersion.current), "commit": .string(ClientVersion.commit),
                "build_date": .string(ClientVersion.buildDate), "swift_version": .string(ClientVersion.swiftVersion),
            ],
        ]
        let client = try global.client()
        do {
            let response = try client.send("GET", "/v1/version", timeoutSeconds: 10)
            document["daemon"] = response.isSuccess ? (response.json ?? .null) : .null
            if !response.isSuccess {
                Printer.note("the daemon at \(client.address) did not report its version: \(Self.why(response.status))")
            }
        } catch {
            document["daemon"] = .null
            Printer.note(error.message)
        }
        global.printer.document(.object(document), idKey: "client")
    }

    /// Why `GET /v1/version` answered `status`: the route needs a token, and daemons older than
    /// the route answer 404.
    static func why(_ status: Int) -> String {
        switch status {
        case 401: "HTTP 401, no token or one it does not accept"
        case 403: "HTTP 403, the token may not read it"
        case 404: "HTTP 404, a daemon older than GET /v1/version"
        default: "HTTP \(status)"
        }
    }
}
