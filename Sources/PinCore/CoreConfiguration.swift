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
            throw CoreError(.invalidPath, "root name '\(resolvedName)' must be non-empty and contain neither ':' nor '/'")
        }
        return RootSpec(name: resolvedName, path: path)
    }
}

/// What the core needs to run: its roots and where its durable state lives.
public struct CoreConfiguration: Sendable {
    public var roots: [RootSpec]
    public var stateDirectory: String

    public init(roots: [RootSpec], stateDirectory: String) {
        self.roots = roots
        self.stateDirectory = stateDirectory
    }
}
