import ArgumentParser
import Foundation
import PinCore
import PinJSON
import PinServer

/// Settings of one daemon run: embedded defaults, overridden by `--config FILE` (JSON),
/// overridden by command-line flags.
struct DaemonSettings {
    var listen = "127.0.0.1:8470"
    var roots: [String] = []
    var stateDirectory = "./var/state"
    var unixSocket: String?
    var tokensFile: String?
    var maxBodyBytes = 1 << 20
    /// nil: derived from the descriptor limit by the server.
    var connectionLimit: UInt32?
    var connectionTimeoutSeconds: UInt32 = 30
    var requestReceiveTimeoutSeconds: Double = 10
    var threads: UInt32 = 4
    var logLevel = "info"
    /// The most bytes pinned at once; nil: the core's default (half of RAM, capped by RLIMIT_MEMLOCK).
    var pinBudgetBytes: UInt64?
    /// The most pins at once; nil: the core's default (4096, at most vm.max_map_count/8).
    var pinMaxCount: Int?
    /// Lease TTL and grace bounds.
    var leasePolicy = LeasePolicy()
    /// URL prefixes webhook targets must start with.
    var webhookAllow: [String] = []
    var webhookTimeoutSeconds = 5
    var webhookMaxPerOrigin = 8
    var webhookRetrySchedule = RetrySchedule.standard
    var drainDeliveryTimeoutSeconds = 30
    var auditIntervalMilliseconds = 1_000

    static let defaultRoot = "./var/data"

    /// Applies a JSON config file: `{"listen", "roots":[...], "state_dir", "unix", "tokens",
    /// "max_body_bytes", "connection_limit", "connection_timeout_s", "request_receive_timeout_s", "threads", "log_level",
    /// "pin_budget_bytes" (an integer or a size string such as "64GiB"), "pin_max_count",
    /// "webhook_allow":[...], "webhook_timeout_s", "webhook_max_per_origin", "webhook_retry_schedule_s" ([seconds, ...]
    /// or "0,5,..."), "drain_delivery_timeout_s", "audit_interval_ms", "ttl_min_s", "ttl_max_s",
    /// "ttl_default_s", "grace_default_s", "grace_max_s", "events_kept"}`.
    mutating func apply(configFile path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw StartupError("cannot read config file \(path)") }
        let object: JSONObject
        do {
            guard let parsed = try JSONCodec.parse(Array(data)).objectValue else { throw StartupError("\(path): the config must be a JSON object") }
            object = parsed
        } catch let error as JSONParseError {
            throw StartupError("\(path):\(error.line):\(error.column): \(error.message)")
        }
        for key in object.keys {
            let value = object[key]!
            func string() throws -> String {
                guard let text = value.stringValue else { throw StartupError("\(path): '\(key)' must be a string") }
                return text
            }
            func number<T: FixedWidthInteger>() throws -> T {
                guard let number = value.int64Value, number >= 0, let converted = T(exactly: number) else {
                    throw StartupError("\(path): '\(key)' must be a non-negative integer")
                }
                return converted
            }
            switch key {
            case "listen": listen = try string()
            case "roots":
                guard let items = value.arrayValue?.compactMap(\.stringValue), items.count == value.arrayValue?.count else {
                    throw StartupError("\(path): 'roots' must be an array of strings")
                }
                roots = items
            case "state_dir": stateDirectory = try string()
            case "unix": unixSocket = try string()
            case "tokens": tokensFile = try string()
            case "max_body_bytes": maxBodyBytes = try number()
            case "connection_limit": connectionLimit = try number()
            case "connection_timeout_s": connectionTimeoutSeconds = try number()
            case "request_receive_timeout_s":
                guard let seconds = value.doubleValue else { throw StartupError("\(path): 'request_receive_timeout_s' must be a number") }
                requestReceiveTimeoutSeconds = try Self.receiveTimeout(seconds, source: "\(path): 'request_receive_timeout_s'")
            case "threads": threads = try number()
            case "log_level": logLevel = try string()
            case "pin_budget_bytes":
                if let text = value.stringValue {
                    pinBudgetBytes = try Self.pinBudget(text, source: "\(path): 'pin_budget_bytes'")
                } else if let number = value.int64Value, number >= 0 {
                    pinBudgetBytes = try Self.positive(UInt64(number), source: "\(path): 'pin_budget_bytes'")
                } else {
                    throw StartupError("\(path): 'pin_budget_bytes' must be a number of bytes or a size such as \"64GiB\"")
                }
            case "pin_max_count": pinMaxCount = try Self.positive(number() as Int, source: "\(path): 'pin_max_count'")
            case "webhook_allow":
                guard let items = value.arrayValue?.compactMap(\.stringValue), items.count == value.arrayValue?.count else {
                    throw StartupError("\(path): 'webhook_allow' must be an array of URL prefixes")
                }
                webhookAllow = items
            case "webhook_timeout_s": webhookTimeoutSeconds = try Self.positive(number() as Int, source: "\(path): 'webhook_timeout_s'")
            case "webhook_max_per_origin":
                webhookMaxPerOrigin = try Self.positive(number() as Int, source: "\(path): 'webhook_max_per_origin'")
            case "webhook_retry_schedule_s":
                let source = "\(path): 'webhook_retry_schedule_s'"
                if let items = value.arrayValue {
                    let seconds = items.compactMap { $0.int64Value.map { String($0) } }
                    guard seconds.count == items.count else { throw StartupError("\(source) must be an array of whole seconds") }
                    webhookRetrySchedule = try Self.retrySchedule(seconds.joined(separator: ","), source: source)
                } else {
                    webhookRetrySchedule = try Self.retrySchedule(string(), source: source)
                }
            case "drain_delivery_timeout_s":
                drainDeliveryTimeoutSeconds = try Self.positive(number() as Int, source: "\(path): 'drain_delivery_timeout_s'")
            case "audit_interval_ms": auditIntervalMilliseconds = try Self.positive(number() as Int, source: "\(path): 'audit_interval_ms'")
            case "ttl_min_s": leasePolicy.ttlMinSeconds = try number()
            case "ttl_max_s": leasePolicy.ttlMaxSeconds = try number()
            case "ttl_default_s": leasePolicy.ttlDefaultSeconds = try number()
            case "grace_default_s": leasePolicy.graceDefaultSeconds = try number()
            case "grace_max_s": leasePolicy.graceMaxSeconds = try number()
            case "events_kept": leasePolicy.eventsKept = try Self.positive(number() as UInt64, source: "\(path): 'events_kept'")
            default: throw StartupError("\(path): unknown setting '\(key)'")
            }
        }
    }

    /// A pin budget written as bytes or with a binary unit ("64MiB"); it must be positive.
    static func pinBudget(_ text: String, source: String) throws -> UInt64 {
        do {
            return try positive(ByteSize.parse(text), source: source)
        } catch let error as CoreError {
            throw StartupError("\(source): \(error.detail)")
        }
    }

    /// A request receive timeout: more than 0 and at most a day.
    static func receiveTimeout(_ seconds: Double, source: String) throws -> Double {
        guard seconds > 0, seconds <= 86_400 else { throw StartupError("\(source) must be greater than 0 and at most 86400 seconds") }
        return seconds
    }

    /// A webhook retry schedule written as "0,5,300,..." (seconds, each >= 0).
    static func retrySchedule(_ text: String, source: String) throws -> RetrySchedule {
        guard let schedule = RetrySchedule.parse(text) else {
            throw StartupError("\(source) must be a comma-separated list of seconds >= 0, such as 0,5,300,1800, not '\(text)'")
        }
        return schedule
    }

    /// `value`, unless it is 0.
    static func positive<T: FixedWidthInteger>(_ value: T, source: String) throws -> T {
        guard value > 0 else { throw StartupError("\(source) must be greater than 0") }
        return value
    }

    /// The listen address split into host and port; `[::1]:8470` for IPv6.
    func listenAddress() throws -> (host: String, port: UInt16) {
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
            throw StartupError("--listen must be HOST:PORT, got '\(listen)'")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }
}
