import ArgumentParser
import PinJSON
import PinleaseClient

/// `pinlease events [--follow] [--since N]`: the recorded events after N (all that are kept by
/// default), and with `--follow` the new ones as they happen. One event per line.
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Print lease and file events; --follow keeps printing new ones.",
        discussion: "With -o json each event is one JSON object on its own line (the SSE data as the daemon sent it).")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Keep the stream open and print events as they happen.") var follow = false
    @Option(help: "Start after this event sequence number (default: 0 without --follow, now with --follow).")
    var since: UInt64?

    func run() throws {
        let client = try global.client()
        var start = since
        var last: UInt64?
        if !follow {
            start = start ?? 0
            last = try newestSequence(client)
            if let last, last <= start ?? 0 { return }
        }
        let query = start.map { "?since=\($0)" } ?? ""
        var parser = ServerSentEventParser()
        var caughtUp = false
        let format = global.format
        if format == .table, Terminal.stdoutIsTerminal { Console.out("SEQ  TIMESTAMP  TYPE  LEASE  HOLDER  REASON") }
        try client.stream("/v1/events" + query) { bytes in
            for frame in parser.feed(bytes) {
                let seq = Self.show(frame, format: format)
                if let last, let seq, seq >= last { caughtUp = true }
            }
            // A heartbeat means the daemon had nothing more to send (a holder token never sees
            // events of others, so the newest sequence number may never arrive).
            if !follow, parser.comments > 0 { caughtUp = true }
            return !caughtUp
        }
    }

    /// The newest recorded event's number (`GET /v1/events/latest`, any token); nil when the
    /// answer does not say.
    private func newestSequence(_ client: DaemonClient) throws(ClientError) -> UInt64? {
        let answer = try client.call("GET", "/v1/events/latest")
        return answer.objectValue?["last_sequence"]?.int64Value.flatMap { UInt64(exactly: $0) }
    }

    /// Prints one event; returns its sequence number.
    private static func show(_ frame: ServerSentEvent, format: OutputFormat) -> UInt64? {
        let event = try? JSONCodec.parse(frame.data)
        let seq = event?.objectValue?["seq"]?.int64Value.map { UInt64($0) } ?? frame.id.flatMap { UInt64($0) }
        switch format {
        case .json:
            Console.out(event.map { JSONCodec.encode($0) } ?? frame.data)
        case .id:
            Console.out(seq.map(String.init) ?? "-")
        case .table:
            let object = event?.objectValue ?? [:]
            let data = object["data"]
            let cells = [
                seq.map(String.init) ?? "-", TextTable.cell(object["timestamp"]),
                frame.event ?? TextTable.cell(object["type"]),
                TextTable.cell(Printer.member(data ?? .null, "lease_id")),
                TextTable.cell(Printer.member(data ?? .null, "holder")),
                TextTable.cell(Printer.member(data ?? .null, "reason")),
            ]
            Console.out(cells.joined(separator: "  "))
        }
        return seq
    }
}
