import PinCore
import PinJSON

/// The API's JSON form of ``PinBudgetUsage``.
extension PinBudgetUsage: JSONRepresentable {
    public var json: JSON {
        .object([
            "budget_bytes": .int(Int64(clamping: budget.maxBytes)),
            "pinned_bytes": .int(Int64(clamping: pinnedBytes)),
            "max_pins": .int(Int64(budget.maxPins)),
            "pins": .int(Int64(pins)),
        ])
    }
}
