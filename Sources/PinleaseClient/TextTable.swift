import PinJSON

/// A plain text table: a header row and left-aligned columns two spaces apart, no trailing blanks.
public struct TextTable: Sendable {
    public let columns: [String]
    public private(set) var rows: [[String]] = []

    public init(columns: [String]) { self.columns = columns }

    public mutating func append(_ row: [String]) { rows.append(row) }

    /// The table as lines ending in newlines; a table without rows is its header only.
    public func render() -> String {
        let all = [columns] + rows
        var widths = [Int](repeating: 0, count: columns.count)
        for row in all {
            for (index, cell) in row.prefix(columns.count).enumerated() {
                widths[index] = max(widths[index], cell.count)
            }
        }
        var out = ""
        for row in all {
            var line = ""
            for (index, cell) in row.prefix(columns.count).enumerated() {
                line += index == 0 ? cell : "  " + cell
                if index < columns.count - 1 { line += String(repeating: " ", count: widths[index] - cell.count) }
            }
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    /// The text of a scalar member for a cell: strings as they are, numbers and Booleans in JSON,
    /// absent or null as `-`, arrays joined by commas, objects as compact JSON.
    public static func cell(_ value: JSON?) -> String {
        switch value {
        case nil, .null?: "-"
        case .string(let text)?: text.isEmpty ? "-" : text
        case .array(let items)?: items.isEmpty ? "-" : items.map { cell($0) }.joined(separator: ",")
        case let other?: JSONCodec.encode(other)
        }
    }

    /// A summary of one object: `key: value` lines, nested objects flattened as `outer.inner`,
    /// arrays of objects as `list[0].member`, keys aligned. The order is the document's.
    public static func summary(_ object: JSONObject) -> String {
        var pairs: [(String, String)] = []
        func walk(_ object: JSONObject, prefix: String) {
            for (key, value) in object.pairs {
                if case .object(let inner) = value, !inner.isEmpty {
                    walk(inner, prefix: prefix + key + ".")
                } else if case .array(let items) = value, items.contains(where: { $0.objectValue != nil }) {
                    for (index, item) in items.enumerated() {
                        if case .object(let inner) = item {
                            walk(inner, prefix: prefix + key + "[\(index)].")
                        } else {
                            pairs.append((prefix + key + "[\(index)]", cell(item)))
                        }
                    }
                } else {
                    pairs.append((prefix + key, cell(value)))
                }
            }
        }
        walk(object, prefix: "")
        let width = pairs.map(\.0.count).max() ?? 0
        return pairs.map { key, value in key + ":" + String(repeating: " ", count: width - key.count + 1) + value + "\n"
        }.joined()
    }
}
