/// The identity behind a bearer token.
struct Principal: Sendable, Equatable {
    enum Role: String, Sendable, CaseIterable {
        /// May call everything.
        case admin
        /// Bound to a holder name; may only manage its own leases.
        case holder
    }

    let role: Role
    /// The holder name, for `holder` tokens.
    let holder: String?
}
