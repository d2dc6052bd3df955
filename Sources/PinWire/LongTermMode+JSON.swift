import PinCore
import PinJSON

/// The API's JSON form of ``LongTermMode`` (a pin's `longterm.requested`): `false`, `true` or
/// `"if-possible"`, the same values a pin request accepts.
extension LongTermMode: JSONRepresentable {
    public var json: JSON {
        switch self {
        case .no: .bool(false)
        case .required: .bool(true)
        case .ifPossible: .string(rawValue)
        }
    }
}
