/// Why a value given for a setting was refused, without naming where it came from: the resolver
/// puts the source in front (`--threads`, `PINLEASED_THREADS`, `FILE: 'threads'`).
package struct SettingProblem: Error, Sendable, Equatable {
    let text: String
    /// "must be ..." reads after the source; a detail follows it after a colon.
    let isPhrase: Bool

    /// A phrase that completes "SOURCE ...", such as "must be greater than 0".
    static func must(_ phrase: String) -> SettingProblem { SettingProblem(text: "must " + phrase, isPhrase: true) }

    /// A sentence of its own, such as a parser's message, shown as "SOURCE: detail".
    static func detail(_ text: String) -> SettingProblem { SettingProblem(text: text, isPhrase: false) }

    /// The one-line message for a value from `source`.
    func message(source: String) -> String { isPhrase ? "\(source) \(text)" : "\(source): \(text)" }
}

/// A reason the settings cannot be resolved, printed as one line (without the usage text).
package struct SettingsError: Error, Sendable, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
