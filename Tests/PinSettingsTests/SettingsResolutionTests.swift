import ArgumentParser
import Logging
import PinCore
import PinServer
import Testing

@testable import PinSettings

/// Resolves with the given flags, environment and config file text (nil: no file is read).
private func resolve(
    flags: [String] = [], environment: [String: String] = [:], configFile: String? = nil
) throws -> DaemonSettings {
    let options = try DaemonOptions.parse(flags)
    var resolver = SettingsResolver(flags: options.given, environment: environment)
    resolver.readFile = { path in configFile.map { Array($0.utf8) } }
    if configFile != nil {
        resolver.environment["PINLEASED_CONFIG"] = resolver.environment["PINLEASED_CONFIG"] ?? "cfg.json"
    }
    return try resolver.resolve()
}

/// The one-line message resolving fails with.
private func failure(flags: [String] = [], environment: [String: String] = [:], configFile: String? = nil) -> String? {
    do {
        _ = try resolve(flags: flags, environment: environment, configFile: configFile)
        return nil
    } catch {
        return "\(error)"
    }
}

@Suite struct SettingsResolutionTests {
    @Test func defaultsMatchTheLibraryDefaults() throws {
        let settings = try resolve()
        #expect(settings.server.listenHost == "127.0.0.1" && settings.server.listenPort == 8470)
        #expect(settings.core.roots == [RootSpec(name: "data", path: "./var/data")])
        #expect(settings.rootsToCreate == ["./var/data"])
        #expect(settings.core.stateDirectory == "./var/state")
        #expect(settings.core.leasePolicy == LeasePolicy())
        #expect(settings.core.webhookRetrySchedule == .standard)
        let library = ServerConfiguration()
        #expect(settings.server.maxBodyBytes == library.maxBodyBytes)
        #expect(settings.server.threads == library.threads)
        #expect(settings.server.connectionTimeoutSeconds == library.connectionTimeoutSeconds)
        #expect(settings.server.requestReceiveTimeoutSeconds == library.requestReceiveTimeoutSeconds)
        #expect(settings.server.connectionLimit == nil && settings.server.unixSocketPath == nil)
        let core = CoreConfiguration(roots: [], stateDirectory: "")
        #expect(settings.core.webhookTimeoutSeconds == core.webhookTimeoutSeconds)
        #expect(settings.core.webhookMaxTransfersPerOrigin == core.webhookMaxTransfersPerOrigin)
        #expect(settings.core.auditIntervalMilliseconds == core.auditIntervalMilliseconds)
        #expect(settings.core.pinBudgetBytes == nil && settings.core.maxPins == nil && settings.core.webhookAllow == [])
        #expect(settings.logLevel == .info && settings.drain == false && settings.drainDeliveryTimeoutSeconds == 30)
        #expect(settings.tokensFile == nil && settings.configFile == nil)
    }

    @Test func flagBeatsEnvironmentBeatsConfigFileBeatsDefault() throws {
        let file = #"{"threads": 2}"#
        let env = ["PINLEASED_THREADS": "3"]
        let all = try resolve(flags: ["--threads", "5"], environment: env, configFile: file)
        #expect(all.server.threads == 5 && all.origins["threads"] == .flag)
        let noFlag = try resolve(environment: env, configFile: file)
        #expect(noFlag.server.threads == 3 && noFlag.origins["threads"] == .environment)
        let fileOnly = try resolve(configFile: file)
        #expect(fileOnly.server.threads == 2 && fileOnly.origins["threads"] == .configFile)
        let none = try resolve()
        #expect(none.server.threads == 4 && none.origins["threads"] == .default)
    }

    @Test func listsAreRepeatedFlagsCommaSeparatedVariablesAndArrays() throws {
        let flags = try resolve(flags: ["--root", "a=/x", "--root=/y/b", "--webhook-allow", "http://h/"])
        #expect(flags.core.roots == [RootSpec(name: "a", path: "/x"), RootSpec(name: "b", path: "/y/b")])
        #expect(flags.core.webhookAllow == ["http://h/"] && flags.rootsToCreate == [])
        let env = try resolve(environment: [
            "PINLEASED_ROOT": "/p,q=/r", "PINLEASED_WEBHOOK_ALLOW": "http://a/,https://b/",
        ])
        #expect(env.core.roots == [RootSpec(name: "p", path: "/p"), RootSpec(name: "q", path: "/r")])
        #expect(env.core.webhookAllow == ["http://a/", "https://b/"])
        let file = try resolve(configFile: #"{"roots": ["/f"], "webhook_allow": ["http://c/"]}"#)
        #expect(file.core.roots == [RootSpec(name: "f", path: "/f")] && file.core.webhookAllow == ["http://c/"])
        // A list from a higher source replaces the lower one whole.
        let both = try resolve(flags: ["--root", "/g"], configFile: #"{"roots": ["/f", "/h"]}"#)
        #expect(both.core.roots.map(\.path) == ["/g"])
    }

    @Test func sizesAsBytesOrBinaryUnitsFromEverySource() throws {
        #expect(try resolve(flags: ["--pin-budget-bytes", "64GiB"]).core.pinBudgetBytes == 64 << 30)
        #expect(try resolve(environment: ["PINLEASED_PIN_BUDGET_BYTES": "6MiB"]).core.pinBudgetBytes == 6 << 20)
        #expect(try resolve(configFile: #"{"pin_budget_bytes": "1 KiB"}"#).core.pinBudgetBytes == 1024)
        #expect(try resolve(configFile: #"{"pin_budget_bytes": 4096}"#).core.pinBudgetBytes == 4096)
        #expect(
            failure(flags: ["--pin-budget-bytes", "lots"])?.hasPrefix("--pin-budget-bytes: 'lots' is not a size")
                == true)
        #expect(
            failure(configFile: #"{"pin_budget_bytes": 0}"#) == "cfg.json: 'pin_budget_bytes' must be greater than 0")
        #expect(
            failure(configFile: #"{"pin_budget_bytes": true}"#)
                == #"cfg.json: 'pin_budget_bytes' must be a number of bytes or a size such as "64GiB""#)
    }

    @Test func retryScheduleAsTextOrArrayOfSeconds() throws {
        let flag = try resolve(flags: ["--webhook-retry-schedule-s", "0,1,2"])
        #expect(flag.core.webhookRetrySchedule.delays == [0, 1, 2])
        let env = try resolve(environment: ["PINLEASED_WEBHOOK_RETRY_SCHEDULE_S": "3, 4"])
        #expect(env.core.webhookRetrySchedule.delays == [3, 4])
        #expect(
            try resolve(configFile: #"{"webhook_retry_schedule_s": [0, 5]}"#).core.webhookRetrySchedule.delays == [
                0, 5,
            ])
        #expect(try resolve(configFile: #"{"webhook_retry_schedule_s": "7"}"#).core.webhookRetrySchedule.delays == [7])
        #expect(
            failure(configFile: #"{"webhook_retry_schedule_s": [0, 1.5]}"#)?.hasSuffix(
                "must be an array of whole seconds") == true)
        #expect(failure(flags: ["--webhook-retry-schedule-s", "1,-2"])?.hasSuffix("not '1,-2'") == true)
    }

    @Test func numbersSwitchesAddressesAndLevels() throws {
        let flags = try resolve(flags: [
            "--request-receive-timeout-s", "0.5", "--drain", "--listen", "[::1]:9000", "--log-level", "debug",
            "--webhook-timeout-s", "7", "--ttl-min-s", "2", "--events-kept", "9",
        ])
        #expect(flags.server.requestReceiveTimeoutSeconds == 0.5 && flags.drain)
        #expect(flags.server.listenHost == "::1" && flags.server.listenPort == 9000 && flags.logLevel == .debug)
        #expect(flags.core.webhookTimeoutSeconds == 7 && flags.core.leasePolicy.ttlMinSeconds == 2)
        #expect(flags.core.leasePolicy.eventsKept == 9)
        #expect(try resolve(environment: ["PINLEASED_DRAIN": "true"]).drain)
        #expect(try resolve(environment: ["PINLEASED_DRAIN": "0"]).drain == false)
        #expect(try resolve(configFile: #"{"drain": true, "request_receive_timeout_s": 3}"#).drain)
        #expect(
            failure(flags: ["--request-receive-timeout-s", "0"])?.hasSuffix(
                "must be greater than 0 and at most 86400 seconds") == true)
        #expect(
            failure(environment: ["PINLEASED_LISTEN": "nowhere"]) == "PINLEASED_LISTEN must be HOST:PORT, got 'nowhere'"
        )
        #expect(
            failure(environment: ["PINLEASED_LOG_LEVEL": "loud"])?.hasPrefix("PINLEASED_LOG_LEVEL must be trace,")
                == true)
    }

    @Test func logFormats() throws {
        #expect(try resolve(flags: []).logFormat == .text)
        #expect(try resolve(flags: ["--log-format", "json"]).logFormat == .json)
        #expect(try resolve(environment: ["PINLEASED_LOG_FORMAT": "json"]).logFormat == .json)
        #expect(try resolve(configFile: #"{"log_format": "json"}"#).logFormat == .json)
        #expect(failure(flags: ["--log-format", "xml"])?.hasSuffix("must be text or json, not 'xml'") == true)
    }

    @Test func integersKeepTheirRangesPerSource() throws {
        #expect(
            failure(environment: ["PINLEASED_PIN_MAX_COUNT": "0"]) == "PINLEASED_PIN_MAX_COUNT must be greater than 0")
        #expect(failure(flags: ["--threads", "-1"]) != nil)
        #expect(failure(flags: ["--threads=x"]) == "--threads must be a whole number >= 0, not 'x'")
        #expect(failure(configFile: #"{"ttl_min_s": -1}"#) == "cfg.json: 'ttl_min_s' must be a non-negative integer")
        #expect(failure(configFile: #"{"threads": "4"}"#) == "cfg.json: 'threads' must be a non-negative integer")
        #expect(
            failure(configFile: #"{"threads": 4294967296}"#) == "cfg.json: 'threads' must be a non-negative integer")
        // A flag may give a negative TTL bound, as before; the lease policy refuses it at start.
        #expect(try resolve(flags: ["--ttl-min-s=-5"]).core.leasePolicy.ttlMinSeconds == -5)
    }

    @Test func configFileErrorsAreOneLine() {
        #expect(failure(configFile: #"{"bogus": 1}"#) == "cfg.json: unknown setting 'bogus'")
        #expect(failure(configFile: #"{"config": "x"}"#) == "cfg.json: unknown setting 'config'")
        #expect(failure(configFile: "[1]") == "cfg.json: the config must be a JSON object")
        #expect(failure(configFile: "{\"threads\": }")?.hasPrefix("cfg.json:1:") == true)
        #expect(failure(configFile: #"{"unix": 3}"#) == "cfg.json: 'unix' must be a string")
        #expect(failure(configFile: #"{"roots": ["/a", 1]}"#) == "cfg.json: 'roots' must be an array of strings")
        // Even a value that a flag overrides is checked: a broken file never starts.
        #expect(failure(flags: ["--threads", "3"], configFile: #"{"threads": -3}"#) != nil)
        var resolver = SettingsResolver(flags: [:], environment: ["PINLEASED_CONFIG": "/missing.json"])
        resolver.readFile = { _ in nil }
        #expect(throws: SettingsError.self) { try resolver.resolve() }
    }

    @Test func configFileNamedByFlagOrEnvironment() throws {
        var resolver = SettingsResolver(flags: [:], environment: ["PINLEASED_CONFIG": "/env.json"])
        resolver.readFile = { path in path == "/env.json" ? Array(#"{"threads": 6}"#.utf8) : nil }
        #expect(try resolver.resolve().server.threads == 6)
        resolver.flags = ["config": .text("/flag.json")]
        resolver.readFile = { path in path == "/flag.json" ? Array(#"{"threads": 7}"#.utf8) : nil }
        let settings = try resolver.resolve()
        #expect(settings.server.threads == 7 && settings.configFile == "/flag.json")
    }

    @Test func unrelatedAndEmptyVariablesAreIgnored() throws {
        let settings = try resolve(environment: ["PINLEASED_BIN": "/x", "PINLEASED_THREADS": "", "THREADS": "9"])
        #expect(settings.server.threads == 4 && settings.origins["threads"] == .default)
    }
}
