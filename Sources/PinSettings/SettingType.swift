import Logging
import PinCore
import PinJSON

/// A setting's value as one source gives it, before it is read and checked.
package enum RawSettingValue: Sendable, Equatable {
    /// The text of a flag, of an environment variable or of the table's default.
    case text(String)
    /// The values of a repeated flag, in order.
    case texts([String])
    /// The value of a config file key.
    case json(JSON)
}

/// How a setting is written on the command line.
package enum FlagForm: Sendable {
    /// `--name VALUE`, the last one counts.
    case option
    /// `--name VALUE`, repeatable: the values form a list (comma-separated in the environment).
    case repeatable
    /// `--name` alone, meaning true.
    case presence
}

/// A kind of setting value: how its text (flag, environment variable, default) and its config
/// file value are read and checked. One reader per kind, so every source parses alike.
package struct SettingType<Value: Sendable>: Sendable {
    let form: FlagForm
    let read: @Sendable (RawSettingValue) throws(SettingProblem) -> Value

    /// This kind, with `transform` applied to each value read (a check or a conversion).
    func map<Other: Sendable>(
        _ transform: @escaping @Sendable (Value) throws(SettingProblem) -> Other
    ) -> SettingType<Other> {
        let read = self.read
        return SettingType<Other>(form: form) { raw throws(SettingProblem) in try transform(read(raw)) }
    }
}

extension SettingType where Value == String {
    /// Any text; a JSON string in the config file.
    static var text: Self {
        SettingType(form: .option) { raw throws(SettingProblem) in
            switch raw {
            case .text(let text): return text
            case .texts(let texts): return texts.last ?? ""
            case .json(let value):
                guard let text = value.stringValue else { throw .must("be a string") }
                return text
            }
        }
    }
}

extension SettingType where Value == Double {
    /// A number; in the config file an integer or a real.
    static var number: Self {
        .scalar(expected: "a number", text: { Double($0) }, json: { $0.doubleValue })
    }
}

extension SettingType where Value == Bool {
    /// `--name` alone; `true`/`false` (or `1`/`0`) in the environment, a JSON Boolean in the file.
    static var presence: Self {
        SettingType(form: .presence) { raw throws(SettingProblem) in
            if case .json(let value) = raw {
                guard let flag = value.boolValue else { throw .must("be true or false") }
                return flag
            }
            switch raw.lastText.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw .must("be true or false, not '\(raw.lastText)'")
            }
        }
    }
}

extension SettingType where Value == [String] {
    /// A list: a repeatable flag, a comma-separated environment variable, a JSON array of strings.
    static func list(of what: String) -> Self {
        SettingType(form: .repeatable) { raw throws(SettingProblem) in
            switch raw {
            case .texts(let texts): return texts
            case .text(let text): return text.isEmpty ? [] : text.split(separator: ",").map(String.init)
            case .json(let value):
                guard let items = value.arrayValue, let texts = Optional(items.compactMap(\.stringValue)),
                    texts.count == items.count
                else { throw .must("be an array of \(what)") }
                return texts
            }
        }
    }
}

extension SettingType where Value == UInt64 {
    /// Bytes or a binary size ("64GiB"); in the config file a size string or an integer.
    static var size: Self {
        SettingType(form: .option) { raw throws(SettingProblem) in
            var text = raw.lastText
            if case .json(let value) = raw {
                if let number = value.int64Value, number >= 0 { return UInt64(number) }
                guard let given = value.stringValue else {
                    throw .must("be a number of bytes or a size such as \"64GiB\"")
                }
                text = given
            }
            do throws(CoreError) {
                return try ByteSize.parse(text)
            } catch {
                throw .detail(error.detail)
            }
        }
    }
}

extension SettingType where Value == RetrySchedule {
    /// "0,5,300,..." seconds; in the config file such a string or an array of whole seconds.
    static var retrySchedule: Self {
        .scalar(
            expected: "a retry schedule", text: { RetrySchedule.parse($0) }, json: retrySchedule(json:),
            problem: retryScheduleProblem)
    }

    private static func retrySchedule(json value: JSON) -> RetrySchedule? {
        if let text = value.stringValue { return RetrySchedule.parse(text) }
        guard let items = value.arrayValue else { return nil }
        let seconds = items.compactMap { $0.int64Value.map { String($0) } }
        return seconds.count == items.count ? RetrySchedule.parse(seconds.joined(separator: ",")) : nil
    }

    private static func retryScheduleProblem(_ raw: RawSettingValue) -> SettingProblem {
        var text = raw.lastText
        if case .json(let value) = raw {
            if let items = value.arrayValue {
                let seconds = items.compactMap(\.int64Value)
                guard seconds.count == items.count else { return .must("be an array of whole seconds") }
                text = seconds.map(String.init).joined(separator: ",")
            } else if let given = value.stringValue {
                text = given
            } else {
                return .must("be a string")
            }
        }
        return .must("be a comma-separated list of seconds >= 0, such as 0,5,300,1800, not '\(text)'")
    }
}

extension SettingType where Value == Logger.Level {
    /// One of swift-log's level names.
    static var logLevel: Self {
        SettingType<String>.text.map { text throws(SettingProblem) in
            guard let level = Logger.Level(rawValue: text) else {
                let names = Logger.Level.allCases.map(\.rawValue)
                throw .must("be \(names.dropLast().joined(separator: ", ")) or \(names.last!), not '\(text)'")
            }
            return level
        }
    }
}

/// A TCP address to listen on.
package struct ListenAddress: Sendable, Equatable {
    package let host: String
    package let port: UInt16
}

extension SettingType where Value == ListenAddress {
    /// `HOST:PORT`, `[::1]:PORT` for IPv6.
    static var listenAddress: Self {
        SettingType<String>.text.map { text throws(SettingProblem) in
            guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
                throw .must("be HOST:PORT, got '\(text)'")
            }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return ListenAddress(host: host, port: port)
        }
    }
}

extension SettingType where Value: FixedWidthInteger {
    /// A whole number; in the config file a non-negative JSON integer.
    static func integer(_: Value.Type = Value.self) -> Self {
        .scalar(
            expected: "a whole number", text: { Value($0) },
            json: { value in value.int64Value.flatMap { $0 >= 0 ? Value(exactly: $0) : nil } },
            problem: { raw in
                if case .json = raw { return .must("be a non-negative integer") }
                return .must("be a whole number\(Value.min == 0 ? " >= 0" : ""), not '\(raw.lastText)'")
            })
    }

    /// Refuses 0 (and anything below).
    var positive: Self {
        map { value throws(SettingProblem) in
            guard value > 0 else { throw .must("be greater than 0") }
            return value
        }
    }
}

extension SettingType {
    /// A single value read from text by `text` and from the config file by `json`; `nil` from
    /// either is refused with `problem` (by default "must be <expected>").
    static func scalar(
        expected: String,
        text: @escaping @Sendable (String) -> Value?,
        json: @escaping @Sendable (JSON) -> Value?,
        problem: (@Sendable (RawSettingValue) -> SettingProblem)? = nil
    ) -> Self {
        let refusal: @Sendable (RawSettingValue) -> SettingProblem =
            problem ?? { raw in
                if case .json = raw { return .must("be \(expected)") }
                return .must("be \(expected), not '\(raw.lastText)'")
            }
        return SettingType(form: .option) { raw throws(SettingProblem) in
            let value: Value? = if case .json(let given) = raw { json(given) } else { text(raw.lastText) }
            guard let value else { throw refusal(raw) }
            return value
        }
    }
}

extension RawSettingValue {
    /// The text given (the last one of a repeated flag); empty for JSON.
    var lastText: String {
        switch self {
        case .text(let text): text
        case .texts(let texts): texts.last ?? ""
        case .json: ""
        }
    }
}
