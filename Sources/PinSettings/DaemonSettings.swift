import Logging
import PinCore
import PinServer

/// Everything one daemon run is configured with, resolved from the flags, the environment, the
/// config file and the defaults of ``SettingsTable``. The table writes every field it names;
/// the initial values below are only the "not set" state of the settings without a default.
package struct DaemonSettings: Sendable {
    /// Roots, state directory, pin limits, lease policy, webhooks, audit.
    package var core = CoreConfiguration(roots: [], stateDirectory: "")
    /// Listeners, limits and timeouts of the HTTP API.
    package var server = ServerConfiguration()
    package var configFile: String?
    package var tokensFile: String?
    package var logLevel = Logger.Level.info
    package var logFormat = LogFormat.text
    package var drain = false
    package var drainDeliveryTimeoutSeconds = 0
    /// Where each setting's value came from, by setting name.
    package var origins: [String: SettingOrigin] = [:]

    package init() {}

    /// The roots to create before start: the default root when no root was given (a root that
    /// was given must exist already).
    package var rootsToCreate: [String] {
        origins["root"] == .default ? core.roots.map(\.path) : []
    }
}

/// The source a setting's value came from; the later cases take precedence.
package enum SettingOrigin: Int, Sendable, Comparable, CustomStringConvertible {
    case `default`, configFile, environment, flag

    package static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    package var description: String {
        switch self {
        case .default: "default"
        case .configFile: "config file"
        case .environment: "environment"
        case .flag: "flag"
        }
    }
}
