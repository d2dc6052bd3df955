import ArgumentParser
import PinJSON
import PinleaseClient

/// `pinlease leases grant|renew|release|revoke|ls|show|deliveries`.
struct LeasesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leases", abstract: "Time-bound grants of pins to holders.",
        subcommands: [
            Grant.self, Renew.self, Release.self, RevokeCommand.self, List.self, Show.self, Deliveries.self,
            Redeliver.self,
        ])

    static func target(_ id: String, _ suffix: String = "") -> String {
        "/v1/leases/" + DaemonClient.percentEncoded(id) + suffix
    }

    static let endedStates: Set<String> = ["released", "revoked", "expired"]

    static let columns = [
        ("ID", "id"), ("PIN", "pin_id"), ("HOLDER", "holder"), ("STATE", "state"), ("EXPIRES_AT", "expires_at"),
        ("DEADLINE", "deadline"), ("ENDED_AT", "ended_at"), ("PATH", "path"),
    ]

    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Grant a lease on a pin (--pin ID), or on a new pin of PATH made for the lease.",
            discussion: "The answer holds the webhook secret (whsec_...), shown only once.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Path to pin for the lease (instead of --pin).") var path: String?
        @Option(name: .customLong("pin"), help: "Id of an existing pin.") var pinID: String?
        @Option(help: "Holder name.") var holder: String
        @Option(name: .customLong("ttl"), help: "Seconds until the lease expires unless renewed.") var ttl: Int64?
        @Option(name: .customLong("grace"), help: "Seconds the holder has to release once revoked.") var grace: Int64?
        @Option(name: .customLong("webhook"), help: "URL that receives the signed lease events.") var webhook: String?
        @Option(
            name: .customLong("holder-uid"), help: "Only this uid may take the descriptor over the hand-off socket.")
        var holderUID: Int64?
        @OptionGroup var range: PinRangeOptions

        func validate() throws {
            guard (path == nil) != (pinID == nil) else {
                throw ValidationError("give either --pin ID or a PATH to pin")
            }
        }

        func run() throws {
            var body: JSONObject = ["holder": .string(holder)]
            if let pinID {
                body["pin_id"] = .string(pinID)
            } else if let path {
                body["path"] = .string(path)
                for (key, value) in try range.members().pairs { body[key] = value }
            }
            if let ttl { body["ttl_s"] = .int(ttl) }
            if let grace { body["grace_s"] = .int(grace) }
            if let webhook { body["webhook_url"] = .string(webhook) }
            if let holderUID { body["holder_uid"] = .int(holderUID) }
            global.printer.document(try global.client().call("POST", "/v1/leases", body: .object(body)))
        }
    }

    struct Renew: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Renew an active lease (409 unless active).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Lease id.") var id: String
        @Option(name: .customLong("ttl"), help: "New TTL in seconds (default: the lease's).") var ttl: Int64?

        func run() throws {
            var body: JSONObject = [:]
            if let ttl { body["ttl_s"] = .int(ttl) }
            global.printer.document(
                try global.client().call("POST", LeasesCommand.target(id, "/renew"), body: .object(body)))
        }
    }

    struct Release: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Release a lease (the holder lets go). A lease that already ended succeeds with a note.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Lease id.") var id: String

        func run() throws {
            let client = try global.client()
            let before = try client.call("GET", LeasesCommand.target(id))
            if let state = before.objectValue?["state"]?.stringValue, LeasesCommand.endedStates.contains(state) {
                Printer.note("lease \(id) had already ended (\(state)); nothing to release")
                return global.printer.document(before)
            }
            global.printer.document(try client.call("POST", LeasesCommand.target(id, "/release")))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List leases (a holder token sees its own).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only leases in this state: active, revoking, released, revoked, expired.") var state: String?
        @Option(help: "Only leases of this holder.") var holder: String?
        @Option(name: .customLong("pin"), help: "Only leases on this pin.") var pinID: String?
        @OptionGroup var page: PageOptions

        func run() throws {
            var query = page.query
            if let state { query.append(("state", state)) }
            if let holder { query.append(("holder", holder)) }
            if let pinID { query.append(("pin_id", pinID)) }
            global.printer.list(try global.client().list("/v1/leases", query: query), columns: LeasesCommand.columns)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one lease.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Lease id.") var id: String

        func run() throws {
            global.printer.document(try global.client().call("GET", LeasesCommand.target(id)))
        }
    }

    struct Deliveries: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the webhook delivery log of a lease.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Lease id.") var id: String
        @OptionGroup var page: PageOptions

        func run() throws {
            let document = try global.client().list(LeasesCommand.target(id, "/deliveries"), query: page.query)
            let columns = [
                ("WEBHOOK_ID", "webhook_id"), ("EVENT", "event"), ("ATTEMPT", "attempt"), ("OUTCOME", "outcome"),
                ("STATUS", "status"), ("STARTED_AT", "started_at"), ("ERROR", "error"), ("REASON", "reason"),
            ]
            global.printer.list(document, idKey: "webhook_id", columns: columns)
        }
    }
}

extension LeasesCommand {
    struct Redeliver: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send one webhook message of a lease again now (its WEBHOOK_ID from `leases deliveries`).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Lease id.") var id: String
        @Argument(help: "The message's webhook id.") var webhookID: String

        func run() throws {
            let target = LeasesCommand.target(id, "/deliveries/" + DaemonClient.percentEncoded(webhookID) + "/retry")
            global.printer.document(try global.client().call("POST", target, body: [:]), idKey: "webhook_id")
        }
    }
}

/// `pinlease leases revoke ID [--wait]`: starts the two-phase revocation; with `--wait`, waits
/// until the lease has ended and says how (released by the holder, or revoked at the deadline).
struct RevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Revoke a lease: the holder is told and has the grace period to release.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Lease id.") var id: String
    @Option(help: "Why (sent to the holder).") var reason: String?
    @Option(name: .customLong("grace"), help: "Seconds the holder has to release (default: the lease's).") var grace:
        Int64?
    @Flag(help: "Wait until the lease has ended, and print how.") var wait = false

    func run() throws {
        let client = try global.client()
        var body: JSONObject = [:]
        if let reason { body["reason"] = .string(reason) }
        if let grace { body["grace_s"] = .int(grace) }
        var lease = try client.call("POST", LeasesCommand.target(id, "/revoke"), body: .object(body))
        if wait {
            while !LeasesCommand.endedStates.contains(lease.objectValue?["state"]?.stringValue ?? "") {
                Terminal.sleep(microseconds: 200_000)
                lease = try client.call("GET", LeasesCommand.target(id))
            }
            let state = lease.objectValue?["state"]?.stringValue ?? "?"
            let how = state == "released" ? "released by its holder" : "\(state) by the daemon"
            Console.err("lease \(id) ended: \(how)")
        }
        global.printer.document(lease)
    }
}
