/// A user-supplied path, validated and split into its root and the path relative to it.
/// `canonical` (`ROOT:relative`) is the one name the daemon uses for the file everywhere.
public struct RootedPath: Sendable, Hashable {
    public let root: String
    public let relative: String
    public var canonical: String { "\(root):\(relative)" }

    package init(root: String, relative: String) {
        self.root = root
        self.relative = relative
    }
}
