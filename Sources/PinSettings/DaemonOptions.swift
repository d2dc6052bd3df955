import ArgumentParser
import Foundation

/// The daemon's command-line options, one per row of ``SettingsTable``, parsed by
/// swift-argument-parser (so flags, `--name=value`, repeated options, unknown-option errors and
/// `--help` behave as with `@Option` properties).
///
/// ArgumentParser finds a type's options by reflecting an instance with `Mirror`; this type
/// reports the table's rows as its children (`CustomReflectable`) and decodes them by name, so
/// no setting needs a property of its own.
package struct DaemonOptions: ParsableArguments, CustomReflectable {
    /// What the command line gave, by setting name.
    package private(set) var given: [String: RawSettingValue] = [:]
    private var printSettingsMarkdown = false
    private static let printSettingsMarkdownName = "print-settings-markdown"

    package init() {}

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: OptionKey.self)
        for setting in SettingsTable.all {
            let key = OptionKey(setting.name)
            switch setting.form {
            case .option:
                if let text = try container.decode(Option<String?>.self, forKey: key).wrappedValue {
                    given[setting.name] = .text(text)
                }
            case .repeatable:
                let texts = try container.decode(Option<[String]>.self, forKey: key).wrappedValue
                if !texts.isEmpty { given[setting.name] = .texts(texts) }
            case .presence:
                if try container.decode(Flag<Bool>.self, forKey: key).wrappedValue {
                    given[setting.name] = .text("true")
                }
            }
        }
        printSettingsMarkdown = try container.decode(Flag<Bool>.self, forKey: OptionKey(Self.printSettingsMarkdownName))
            .wrappedValue
    }

    package var customMirror: Mirror {
        var children: [Mirror.Child] = SettingsTable.all.map { setting in
            let name = NameSpecification.customLong(setting.name)
            let help = ArgumentHelp(SettingsDocumentation.help(for: setting), valueName: setting.valueName)
            let argument: Any =
                switch setting.form {
                case .option: Option<String?>(name: name, help: help)
                case .repeatable: Option<[String]>(wrappedValue: [], name: name, help: help)
                case .presence: Flag<Bool>(wrappedValue: false, name: name, help: help)
                }
            return (label: setting.name, value: argument)
        }
        let markdownHelp = ArgumentHelp("Print the settings as the README's Markdown table.", visibility: .private)
        let markdown = Flag<Bool>(
            wrappedValue: false, name: .customLong(Self.printSettingsMarkdownName), help: markdownHelp)
        children.append((label: Self.printSettingsMarkdownName, value: markdown))
        return Mirror(self, children: children)
    }

    package func validate() throws {
        if printSettingsMarkdown { throw CleanExit.message(SettingsDocumentation.markdownTable()) }
    }

    /// The settings of this run: these flags over `environment` over the config file over the defaults.
    package func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws(SettingsError)
        -> DaemonSettings
    {
        try SettingsResolver(flags: given, environment: environment).resolve()
    }

    /// A setting's name as the key ArgumentParser decodes it by.
    private struct OptionKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
