import PinCore
import PinJSON

extension CoreError {
    /// The `type` of every problem document is this prefix and the code's slug.
    package static let problemTypePrefix = "https://pinlease.dev/problems/"

    /// The error as an RFC 9457 problem body without `status` (that belongs to the transport):
    /// how a failed operation shows its error, and how the state database keeps it.
    public var problemJSON: JSONObject {
        var object: JSONObject = [
            "type": .string(Self.problemTypePrefix + code.rawValue),
            "title": .string(code.title),
            "detail": .string(detail),
        ]
        for (name, value) in extensions.members { object[name] = value.json }
        return object
    }

    /// The error a ``problemJSON`` document describes (its members after `type`, `title` and
    /// `detail` are the extensions, in order), or `nil` when it names no code of this build.
    package init?(problemJSON object: JSONObject) {
        guard case .string(let type)? = object["type"], type.hasPrefix(Self.problemTypePrefix),
            let code = CoreErrorCode(rawValue: String(type.dropFirst(Self.problemTypePrefix.count))),
            case .string(let detail)? = object["detail"]
        else { return nil }
        let extensions = JSONObject(object.pairs.filter { !["type", "title", "detail"].contains($0.key) })
        self.init(code, detail, extensions: ErrorExtensions(json: extensions))
    }
}
