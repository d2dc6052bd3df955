import Foundation

/// The settings described for people: `--help` lines and the README's table, both from
/// ``SettingsTable``.
package enum SettingsDocumentation {
    /// How the sources combine; the command's `--help` discussion.
    package static let precedence = """
        Every setting is a flag --NAME, an environment variable PINLEASED_NAME (upper case, '-' as '_') \
        and, but for --config, a key of the JSON config file named by --config or PINLEASED_CONFIG. \
        A flag wins over the environment, which wins over the config file, which wins over the default. \
        Lists are repeated flags, comma-separated environment variables and JSON arrays.
        """

    /// A setting's line in `--help`: its meaning, default, environment variable and config key.
    package static func help(for setting: Setting) -> String {
        var text = setting.help
        if let value = setting.defaultText {
            text += " Default \(value)."
        } else if let meaning = setting.unsetMeaning {
            text += " Default: \(meaning)."
        }
        text += " [\(setting.environmentVariable)"
        if let key = setting.configKey { text += ", config \"\(key)\"" }
        return text + "]"
    }

    /// The README's table of every setting: flag, environment variable, config key, default, meaning.
    package static func markdownTable() -> String {
        var lines = [
            "| Flag | Environment variable | Config key | Default | Meaning |",
            "| --- | --- | --- | --- | --- |",
        ]
        for setting in SettingsTable.all {
            let flag = setting.valueName.isEmpty ? setting.flag : "\(setting.flag) \(setting.valueName)"
            let key = setting.configKey.map { "`\($0)`" } ?? "—"
            let value = setting.defaultText.map { "`\($0)`" } ?? setting.unsetMeaning ?? ""
            let cells = ["`\(flag)`", "`\(setting.environmentVariable)`", key, value, setting.help]
            lines.append("| " + cells.map(escaped).joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    /// A table cell: `|` would end it.
    private static func escaped(_ cell: String) -> String {
        cell.replacingOccurrences(of: "|", with: "\\|")
    }
}
