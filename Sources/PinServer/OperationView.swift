import PinCore
import PinJSON
import PinWire

extension OperationSnapshot {
    /// The operation as the API answers it: PinWire's form, with `error` as the full problem
    /// document (its HTTP `status` included) that the same request would have been answered with
    /// synchronously. PinWire leaves the status out because the state database keeps the error in
    /// that form, and the status of a code is the server's to decide (``ProblemMapping``).
    var apiJSON: JSON {
        guard let error, case .object(var object) = json else { return json }
        object["error"] = ProblemMapping.problem(for: error).json
        return .object(object)
    }
}
