import PinCore
import PinJSON

/// The JSON form of ``OperationResult``: an operation's `result` in the API, and the text the
/// state database keeps in `operations.result` (the same document, so a result read back after a
/// restart is shown byte for byte as it was). A prepare's result is its ``LayoutReport``.
extension OperationResult: JSONRepresentable {
    public var json: JSON {
        switch self {
        case .prepared(let report): report.json
        }
    }

    /// The result of an operation of `kind` that a stored ``json`` describes, or `nil` when it is
    /// not one (an unknown kind, or a document that is not that kind's result).
    package init?(kind: String, json: JSON) {
        switch kind {
        case "prepare":
            guard let report = LayoutReport(json: json) else { return nil }
            self = .prepared(report)
        default:
            return nil
        }
    }
}
