import PinJSON
import PinleaseClient
import Testing

@Suite("Output formatting")
struct FormattingTests {
    @Test("human sizes and durations")
    func units() {
        #expect(HumanUnits.bytes(0) == "0 B")
        #expect(HumanUnits.bytes(1023) == "1023 B")
        #expect(HumanUnits.bytes(1024) == "1.0 KiB")
        #expect(HumanUnits.bytes(3 * 1024 * 1024 / 2) == "1.5 MiB")
        #expect(HumanUnits.bytes(2 << 30) == "2.0 GiB")
        #expect(HumanUnits.duration(seconds: 9.4) == "9s")
        #expect(HumanUnits.duration(seconds: 187) == "3m07s")
        #expect(HumanUnits.duration(seconds: 7500) == "2h05m")
        #expect(HumanUnits.duration(seconds: .infinity) == "?")
    }

    @Test("progress: bar, line, rate and ETA")
    func progress() {
        let report = ProgressReport(label: "prepare a", done: 1 << 30, total: 2 << 30, elapsed: 2)
        #expect(report.line == "prepare a: 1.0 GiB / 2.0 GiB (50%), 512.0 MiB/s, ETA 2s")
        #expect(report.bar(width: 10) == "prepare a [#####-----] 1.0 GiB / 2.0 GiB (50%), 512.0 MiB/s, ETA 2s")
        let start = ProgressReport(label: "p", done: 0, total: 100, elapsed: 0)
        #expect(start.line == "p: 0 B / 100 B (0%), ETA ?")
        #expect(ProgressReport(label: "p", done: 0, total: 0, elapsed: 1).fraction == 1)
    }

    @Test("tables align columns and drop trailing blanks")
    func table() {
        var table = TextTable(columns: ["ID", "STATE", "PATH"])
        table.append(["lease_1", "active", "ext4:a.bin"])
        table.append(["l2", "released", ""])
        #expect(table.render() == "ID       STATE     PATH\nlease_1  active    ext4:a.bin\nl2       released\n")
        #expect(TextTable.cell(nil) == "-")
        #expect(TextTable.cell(.array(["a", "b"])) == "a,b")
        #expect(TextTable.cell(.bool(true)) == "true")
    }

    @Test("a summary flattens nested objects and lists of objects")
    func summary() {
        let object: JSONObject = [
            "id": "p1", "longterm": ["held": false], "reasons": [["code": "holes"]], "leases": [],
        ]
        #expect(
            TextTable.summary(object)
                == "id:              p1\nlongterm.held:   false\nreasons[0].code: holes\nleases:          -\n")
    }

    @Test("server-sent events in arbitrary pieces, comments counted")
    func events() {
        var parser = ServerSentEventParser()
        let text =
            "retry: 2000\n\nid: 4\nevent: lease.granted\ndata: {\"seq\":4}\n\n"
            + ": heartbeat\n\r\nid: 5\r\ndata: a\r\ndata: b\r\n\r\n"
        var frames: [ServerSentEvent] = []
        for byte in text.utf8 { frames += parser.feed([byte]) }
        #expect(
            frames == [
                ServerSentEvent(id: "4", event: "lease.granted", data: "{\"seq\":4}"),
                ServerSentEvent(id: "5", data: "a\nb"),
            ])
        #expect(parser.comments == 1)
    }
}
