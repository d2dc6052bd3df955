import PinJSON
import PinleaseClient

/// Prints results in the chosen format: the API's JSON document, just ids, or text for people.
struct Printer {
    let format: OutputFormat

    /// One document: `json` prints it as the API sent it; `id` prints its `idKey` member; `table`
    /// prints `table(object)` (a key/value summary by default).
    func document(_ value: JSON, idKey: String = "id", table: ((JSONObject) -> String)? = nil) {
        switch format {
        case .json:
            emit(JSONCodec.encode(value, pretty: Terminal.stdoutIsTerminal))
        case .id:
            if let id = value.objectValue?[idKey].map(TextTable.cell) { emit(id) }
        case .table:
            guard let object = value.objectValue else { return emit(TextTable.cell(value)) }
            let text = table?(object) ?? TextTable.summary(object)
            emit(text.hasSuffix("\n") ? String(text.dropLast()) : text)
        }
    }

    /// A list document (all pages): `json` prints it whole; `id` prints each item's `idKey`;
    /// `table` prints the given columns, each read by a key path like `longterm.held`.
    func list(_ document: JSONObject, idKey: String = "id", columns: [(String, String)], footer: String? = nil) {
        let items = document["items"]?.arrayValue ?? []
        switch format {
        case .json:
            emit(JSONCodec.encode(.object(document), pretty: Terminal.stdoutIsTerminal))
        case .id:
            for item in items { emit(TextTable.cell(item.objectValue?[idKey])) }
        case .table:
            var table = TextTable(columns: columns.map(\.0))
            for item in items { table.append(columns.map { TextTable.cell(Self.member(item, $0.1)) }) }
            emit(String(table.render().dropLast()))
            if let footer { emit(footer) }
        }
    }

    /// The member at a dotted key path (`longterm.held`), or nil.
    static func member(_ value: JSON, _ path: String) -> JSON? {
        var current: JSON? = value
        for key in path.split(separator: ".") { current = current?.objectValue?[String(key)] }
        return current
    }

    func emit(_ line: String) {
        Console.out(line)
    }

    /// A remark for people on stderr (`note: ...`); never part of the output scripts parse.
    static func note(_ text: String) {
        Console.err("note: " + text)
    }
}
