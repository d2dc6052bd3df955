import PinCore
import PinJSON

/// The JSON form of a core error's extensions: the members of its problem document after
/// `type`, `title` and `detail`, in the order the error lists them.
extension ErrorExtensions {
    /// The members as a JSON object, in order.
    package var json: JSONObject {
        JSONObject(members.map { ($0.name, $0.value.json) })
    }

    /// The extensions a JSON object holds, in order. A member whose value has no typed form
    /// (`null` or a real number, which no core error carries) is left out.
    package init(json object: JSONObject) {
        self.init(
            object.pairs.compactMap { pair in ErrorExtensionValue(json: pair.value).map { (name: pair.key, value: $0) }
            })
    }
}

extension ErrorExtensionValue {
    /// The value as JSON; domain values take the form the API shows them in.
    package var json: JSON {
        switch self {
        case .text(let text): .string(text)
        case .integer(let number): .int(number)
        case .boolean(let flag): .bool(flag)
        case .list(let values): .array(values.map(\.json))
        case .record(let members): .object(members.json)
        case .layoutReport(let report): report.json
        case .notReadyReasons(let reasons): .array(reasons.map(\.json))
        case .violation(let violation): violation.json
        }
    }

    /// The value a JSON value reads back as: objects as ``record(_:)``, so a decoded value
    /// encodes to the same JSON. `nil` for `null`, a real number, or a list holding one.
    package init?(json: JSON) {
        switch json {
        case .string(let text): self = .text(text)
        case .int(let number): self = .integer(number)
        case .bool(let flag): self = .boolean(flag)
        case .array(let values):
            let typed = values.compactMap(ErrorExtensionValue.init(json:))
            guard typed.count == values.count else { return nil }
            self = .list(typed)
        case .object(let object):
            let members = ErrorExtensions(json: object)
            guard members.members.count == object.count else { return nil }
            self = .record(members)
        case .null, .double: return nil
        }
    }
}
