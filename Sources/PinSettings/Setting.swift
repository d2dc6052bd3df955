import Foundation

/// One setting of the daemon, declared once: its flag (`--name`), its environment variable
/// (`PINLEASED_NAME`), its config file key, its default, its help, and where its value goes.
package struct Setting: Sendable {
    /// Where a setting can be given in the config file.
    package enum ConfigKey: Sendable {
        /// The name with `-` written `_` (`state-dir` is `state_dir`).
        case fromName
        case named(String)
        /// Not in the config file (`--config` itself).
        case none
    }

    /// The flag without its dashes, such as `state-dir`.
    package let name: String
    /// The config file key; nil when the file cannot set it.
    package let configKey: String?
    /// What the value looks like in the documentation (`SECONDS`, `HOST:PORT`).
    package let valueName: String
    /// The default as it would be written on the command line; nil: none (see `unsetMeaning`).
    package let defaultText: String?
    /// What happens when no source gives a value and there is no default.
    package let unsetMeaning: String?
    package let help: String
    package let form: FlagForm
    /// Reads a raw value and stores it in the settings.
    let apply: @Sendable (RawSettingValue, inout DaemonSettings) throws(SettingProblem) -> Void

    /// - Parameters:
    ///   - store: writes the value read into the settings (the configurations the daemon starts with).
    init<Value>(
        _ name: String, _ type: SettingType<Value>, _ valueName: String, default defaultText: String? = nil,
        unset unsetMeaning: String? = nil, key: ConfigKey = .fromName, help: String,
        store: @escaping @Sendable (inout DaemonSettings, Value) -> Void
    ) {
        self.name = name
        switch key {
        case .fromName: configKey = name.replacingOccurrences(of: "-", with: "_")
        case .named(let named): configKey = named
        case .none: configKey = nil
        }
        self.valueName = valueName
        self.defaultText = defaultText
        self.unsetMeaning = unsetMeaning
        self.help = help
        form = type.form
        let read = type.read
        apply = { raw, settings throws(SettingProblem) in store(&settings, try read(raw)) }
    }

    /// `--name`.
    package var flag: String { "--" + name }

    /// `PINLEASED_NAME`: the name upper-cased, `-` written `_`.
    package var environmentVariable: String {
        "PINLEASED_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }
}
