import PinBuildInfo

/// The version of the `pinlease` CLI and what it was built from: the package's, from the
/// `VERSION` file and git (``BuildInfo``), the same as the daemon built from the same tree.
public enum ClientVersion {
    public static let current = BuildInfo.version
    /// The commit the CLI was built from, or `unknown`.
    public static let commit = BuildInfo.commit
    /// When: `SOURCE_DATE_EPOCH` or the commit's date (ISO 8601 UTC), or `unknown`.
    public static let buildDate = BuildInfo.buildDate
    /// The Swift compiler's version.
    public static let swiftVersion = BuildInfo.swiftVersion
    /// The one line `pinlease --version` prints.
    public static let summary = BuildInfo.summary
}
