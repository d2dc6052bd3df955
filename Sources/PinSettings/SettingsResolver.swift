import Foundation
import PinJSON

/// Resolves every setting of ``SettingsTable``: a flag wins over the environment variable, which
/// wins over the config file, which wins over the default. Every value given is read and checked,
/// also one that a source of higher precedence overrides, so a broken config file never starts.
package struct SettingsResolver {
    /// What the command line gave, by setting name.
    package var flags: [String: RawSettingValue]
    /// The process environment; only `PINLEASED_<NAME>` variables of known settings are read,
    /// and an empty one counts as unset.
    package var environment: [String: String]
    /// Reads the config file; nil when it cannot be read.
    package var readFile: @Sendable (String) -> [UInt8]? = { path in
        FileManager.default.contents(atPath: path).map(Array.init)
    }

    package init(flags: [String: RawSettingValue], environment: [String: String]) {
        self.flags = flags
        self.environment = environment
    }

    package func resolve() throws(SettingsError) -> DaemonSettings {
        var settings = DaemonSettings()
        try resolve(SettingsTable.configFile, fileValue: nil, into: &settings)
        var fileValues: [String: JSON] = [:]
        if let path = settings.configFile {
            fileValues = try configFileValues(path: path)
        }
        for setting in SettingsTable.all where setting.name != SettingsTable.configFile.name {
            try resolve(setting, fileValue: setting.configKey.flatMap { fileValues[$0] }, into: &settings)
        }
        return settings
    }

    /// Applies the sources of one setting from the lowest precedence to the highest.
    private func resolve(_ setting: Setting, fileValue: JSON?, into settings: inout DaemonSettings)
        throws(SettingsError)
    {
        var given: [(SettingOrigin, RawSettingValue, source: String)] = []
        if let text = setting.defaultText { given.append((.default, .text(text), "the default of \(setting.flag)")) }
        if let fileValue, let key = setting.configKey, let path = settings.configFile {
            given.append((.configFile, .json(fileValue), "\(path): '\(key)'"))
        }
        if let text = environment[setting.environmentVariable], !text.isEmpty {
            given.append((.environment, .text(text), setting.environmentVariable))
        }
        if let raw = flags[setting.name] { given.append((.flag, raw, setting.flag)) }
        for (origin, raw, source) in given {
            do {
                try setting.apply(raw, &settings)
            } catch {
                throw SettingsError(error.message(source: source))
            }
            settings.origins[setting.name] = origin
        }
    }

    /// The keys of the config file (a JSON object) by name; an unknown key is refused.
    private func configFileValues(path: String) throws(SettingsError) -> [String: JSON] {
        guard let bytes = readFile(path) else { throw SettingsError("cannot read config file \(path)") }
        let object: JSONObject
        do {
            guard let parsed = try JSONCodec.parse(bytes).objectValue else {
                throw SettingsError("\(path): the config must be a JSON object")
            }
            object = parsed
        } catch let error as JSONParseError {
            throw SettingsError("\(path):\(error.line):\(error.column): \(error.message)")
        } catch let error as SettingsError {
            throw error
        } catch {
            throw SettingsError("\(path): \(error)")
        }
        let known = Set(SettingsTable.all.compactMap(\.configKey))
        var values: [String: JSON] = [:]
        for (key, value) in object.pairs {
            guard known.contains(key) else { throw SettingsError("\(path): unknown setting '\(key)'") }
            values[key] = value
        }
        return values
    }
}
