/// A directory the daemon may act under, addressed by `name`.
public struct RootSpec: Sendable, Equatable {
    public let name: String
    public let path: String

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }

    /// Parses `NAME=PATH` or `PATH`; a root's name defaults to the base name of its directory.
    public static func parse(_ text: String) throws(CoreError) -> RootSpec {
        var name: String?
        var path = text
        if let equals = text.firstIndex(of: "="), !text[..<equals].contains("/") {
            name = String(text[..<equals])
            path = String(text[text.index(after: equals)...])
        }
        guard !path.isEmpty else { throw CoreError(.invalidPath, "root '\(text)' names no directory") }
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let resolvedName = name ?? String(path.split(separator: "/").last ?? "root")
        guard !resolvedName.isEmpty, !resolvedName.contains(":"), !resolvedName.contains("/") else {
            throw CoreError(
                .invalidPath, "root name '\(resolvedName)' must be non-empty and contain neither ':' nor '/'")
        }
        return RootSpec(name: resolvedName, path: path)
    }
}

/// What the core needs to run: its roots, where its durable state lives, and how much it may pin.
public struct CoreConfiguration: Sendable {
    public var roots: [RootSpec]
    public var stateDirectory: String
    /// The most bytes pinned at once; `nil`: half of RAM, capped by RLIMIT_MEMLOCK unless CAP_IPC_LOCK.
    public var pinBudgetBytes: UInt64?
    /// The most pins at once; `nil`: 4096 and at most an eighth of vm.max_map_count.
    public var maxPins: Int?
    /// TTL and grace bounds of leases.
    public var leasePolicy = LeasePolicy()
    /// URL prefixes webhook targets must start with; none: no lease may have a webhook.
    public var webhookAllow: [String] = []
    /// Per-attempt timeout of a webhook request, in seconds.
    public var webhookTimeoutSeconds: Double = 5
    /// Webhook requests in flight at once to one origin (scheme, host, port).
    public var webhookMaxTransfersPerOrigin = 8
    /// The attempts of a final notice (`lease.revoked`, `lease.released`, `file.violation`).
    public var webhookRetrySchedule = RetrySchedule.standard
    /// How often every locked file is audited, in milliseconds.
    public var auditIntervalMilliseconds = 1_000

    public init(roots: [RootSpec], stateDirectory: String, pinBudgetBytes: UInt64? = nil, maxPins: Int? = nil) {
        self.roots = roots
        self.stateDirectory = stateDirectory
        self.pinBudgetBytes = pinBudgetBytes
        self.maxPins = maxPins
    }
}
