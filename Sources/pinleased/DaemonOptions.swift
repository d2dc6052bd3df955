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
    var connectionLimit: UInt32 = 256
    var connectionTimeoutSeconds: UInt32 = 30
    var threads: UInt32 = 4
    var logLevel = "info"

    static let defaultRoot = "./var/data"

    /// Applies a JSON config file: `{"listen", "roots":[...], "state_dir", "unix", "tokens",
    /// "max_body_bytes", "connection_limit", "connection_timeout_s", "threads", "log_level"}`.
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
            case "threads": threads = try number()
            case "log_level": logLevel = try string()
            default: throw StartupError("\(path): unknown setting '\(key)'")
            }
        }
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
