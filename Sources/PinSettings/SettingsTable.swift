import PinCore
import PinServer

/// Every setting of the daemon, once. Flags, environment variables, config file keys, `--help`
/// and the README's table all come from here; add a setting by adding a row.
package enum SettingsTable {
    package static let all: [Setting] = server + core + leases + webhooks

    /// The setting that names the config file (a flag or an environment variable only).
    package static let configFile = Setting(
        "config", .text, "FILE", unset: "no config file", key: .none,
        help: "Settings file: a JSON object of the config keys below."
    ) { $0.configFile = $1 }

    private static let server: [Setting] = [
        Setting(
            "listen", .listenAddress, "HOST:PORT", default: "127.0.0.1:8470",
            help: "Address of the HTTP API; [::1]:PORT for IPv6."
        ) {
            $0.server.listenHost = $1.host
            $0.server.listenPort = $1.port
        },
        Setting(
            "root", SettingType.list(of: "strings").map(rootSpecs), "PATH|NAME=PATH", default: "./var/data",
            key: .named("roots"),
            help: "A directory the daemon may act under, named NAME or by its base name; repeatable "
                + "(comma-separated in the environment). The default one is created if missing."
        ) { $0.core.roots = $1 },
        Setting(
            "state-dir", .text, "PATH", default: "./var/state",
            help: "SQLite state (locked files, pins, operations, leases) and admin.token; one daemon per "
                + "state directory (flock on STATE_DIR/lock: a second one exits 1 naming the pid holding it)."
        ) { $0.core.stateDirectory = $1 },
        Setting(
            "unix", .text, "PATH", unset: "no Unix socket",
            help: "Also serve the API on this Unix socket, and hand lease holders descriptors on PATH.fd."
        ) { $0.server.unixSocketPath = $1 },
        Setting(
            "tokens", .text, "FILE", unset: "an admin token is created in STATE_DIR/admin.token (0600)",
            help: "Tokens file (JSON), re-read on SIGHUP."
        ) { $0.tokensFile = $1 },
        configFile,
        Setting(
            "max-body-bytes", .integer(Int.self), "BYTES", default: "1048576",
            help: "Larger request bodies get 413 (a chunked body as soon as it passes the limit; "
                + "the connection is then closed)."
        ) { $0.server.maxBodyBytes = $1 },
        Setting(
            "connection-limit", .integer(UInt32.self), "N",
            unset: "from the descriptor limit (raised to the hard limit): up to 16384 on TCP, 1024 on the Unix socket",
            help: "Most concurrent connections per listener."
        ) { $0.server.connectionLimit = $1 },
        Setting(
            "connection-timeout-s", .integer(UInt32.self), "SECONDS", default: "30",
            help: "Idle connection timeout."
        ) { $0.server.connectionTimeoutSeconds = $1 },
        Setting(
            "request-receive-timeout-s", SettingType.number.map(receiveTimeout), "SECONDS", default: "10",
            help: "A request (line, headers and body) must arrive within this long (more than 0, at most 86400); "
                + "slower connections are closed. Event streams and running requests are not bounded by it."
        ) { $0.server.requestReceiveTimeoutSeconds = $1 },
        Setting("threads", .integer(UInt32.self), "N", default: "4", help: "HTTP worker threads per listener.") {
            $0.server.threads = $1
        },
        Setting(
            "metrics-require-token", .presence, "", default: "false",
            help:
                "GET /metrics needs an admin token (without it, Prometheus scrapes it unauthenticated, like /healthz)."
        ) { $0.server.metricsRequireToken = $1 },
        Setting(
            "log-level", .logLevel, "LEVEL", default: "info",
            help: "trace, debug, info, notice, warning, error or critical."
        ) { $0.logLevel = $1 },
        Setting(
            "log-format", SettingType<String>.text.map(logFormat), "FORMAT", default: "text",
            help: "text (escaped lines) or json (one object per line: timestamp, level, logger, message and "
                + "fields such as request_id, method, route, status, duration_ms)."
        ) { $0.logFormat = $1 },
    ]

    private static let core: [Setting] = [
        Setting(
            "pin-budget-bytes", SettingType.size.positive, "SIZE",
            unset: "half of RAM, capped by RLIMIT_MEMLOCK unless CAP_IPC_LOCK",
            help: "Most bytes pinned at once: bytes or a binary size such as 64GiB; over it a pin gets 507."
        ) { $0.core.pinBudgetBytes = $1 },
        Setting(
            "pin-max-count", SettingType.integer(Int.self).positive, "N", unset: "4096, at most vm.max_map_count/8",
            help: "Most pins at once; over it a pin gets 507."
        ) { $0.core.maxPins = $1 },
        Setting(
            "audit-interval-ms", SettingType.integer(Int.self).positive, "MS", default: "1000",
            help: "How often every locked file is audited."
        ) { $0.core.auditIntervalMilliseconds = $1 },
        Setting(
            "drain", .presence, "", default: "false",
            help: "On SIGTERM or SIGINT, revoke every lease and wait for the holders (or the deadlines) "
                + "before stopping."
        ) { $0.drain = $1 },
        Setting(
            "drain-delivery-timeout-s", SettingType.integer(Int.self).positive, "SECONDS", default: "30",
            help: "With drain, how long to wait for the last webhooks after the leases ended."
        ) { $0.drainDeliveryTimeoutSeconds = $1 },
    ]

    private static let leases: [Setting] = [
        Setting("ttl-min-s", .integer(Int.self), "SECONDS", default: "1", help: "Shortest lease TTL.") {
            $0.core.leasePolicy.ttlMinSeconds = $1
        },
        Setting("ttl-max-s", .integer(Int.self), "SECONDS", default: "86400", help: "Longest lease TTL.") {
            $0.core.leasePolicy.ttlMaxSeconds = $1
        },
        Setting(
            "ttl-default-s", .integer(Int.self), "SECONDS", default: "60", help: "TTL of a lease granted without ttl_s."
        ) { $0.core.leasePolicy.ttlDefaultSeconds = $1 },
        Setting(
            "grace-default-s", .integer(Int.self), "SECONDS", default: "30",
            help: "Grace period of a revocation without grace_s."
        ) { $0.core.leasePolicy.graceDefaultSeconds = $1 },
        Setting("grace-max-s", .integer(Int.self), "SECONDS", default: "3600", help: "Longest grace period.") {
            $0.core.leasePolicy.graceMaxSeconds = $1
        },
        Setting(
            "events-kept", SettingType.integer(UInt64.self).positive, "N", default: "100000",
            help: "Events kept for GET /v1/events?since= (older ones get 410 events-expired)."
        ) { $0.core.leasePolicy.eventsKept = $1 },
    ]

    private static let webhooks: [Setting] = [
        Setting(
            "webhook-allow", .list(of: "URL prefixes"), "PREFIX", unset: "none: no lease may have a webhook",
            help: "A URL prefix webhook targets may start with; repeatable (comma-separated in the environment). "
                + "Loopback and link-local targets need a prefix that names them."
        ) { $0.core.webhookAllow = $1 },
        Setting(
            "webhook-timeout-s", SettingType.integer(Int.self).positive, "SECONDS", default: "5",
            help: "Timeout of one webhook attempt."
        ) { $0.core.webhookTimeoutSeconds = Double($1) },
        Setting(
            "webhook-max-per-origin", SettingType.integer(Int.self).positive, "N", default: "8",
            help:
                "Most webhook requests in flight to one origin (scheme, host, port), of 64 in all; origins take turns."
        ) { $0.core.webhookMaxTransfersPerOrigin = $1 },
        Setting(
            "webhook-retry-schedule-s", .retrySchedule, "SECONDS,...", default: "0,5,300,1800,7200,18000,36000,36000",
            help: "Delays before each attempt of a final notice (lease.revoked, lease.released, file.violation); "
                + "in the config file also an array of whole seconds."
        ) { $0.core.webhookRetrySchedule = $1 },
    ]

    /// `text` or `json`.
    private static func logFormat(_ text: String) throws(SettingProblem) -> LogFormat {
        guard let format = LogFormat(rawValue: text) else { throw .must("be text or json, not '\(text)'") }
        return format
    }

    /// Each root as `NAME=PATH` or `PATH`.
    private static func rootSpecs(_ texts: [String]) throws(SettingProblem) -> [RootSpec] {
        var roots: [RootSpec] = []
        for text in texts {
            do {
                roots.append(try RootSpec.parse(text))
            } catch {
                throw .detail(error.detail)
            }
        }
        return roots
    }

    /// More than 0 and at most a day.
    private static func receiveTimeout(_ seconds: Double) throws(SettingProblem) -> Double {
        guard seconds > 0, seconds <= 86_400 else { throw .must("be greater than 0 and at most 86400 seconds") }
        return seconds
    }
}
