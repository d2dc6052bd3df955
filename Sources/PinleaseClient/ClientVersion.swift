import PinBuildInfo

/// The version of the `pinlease` CLI: the package's, from the `VERSION` file (``BuildInfo``).
public enum ClientVersion {
    public static let current = BuildInfo.version
    /// The commit the CLI was built from, or `unknown`.
    public static let commit = BuildInfo.commit
    /// The one line `pinlease --version` prints.
    public static let summary = BuildInfo.summary
}
