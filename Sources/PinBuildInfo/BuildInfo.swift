/// What this binary was built from, the same in `pinleased` and the `pinlease` CLI. Generated at
/// build time by the `BuildInfoPlugin` from the `VERSION` file (the one place the version is
/// written) and git; a source tree without git reports the commit as `unknown`.
package enum BuildInfo {
    /// The release, from `VERSION`, for example `0.1.0`.
    package static let version = GeneratedBuildInfo.version
    /// The full git commit the binary was built from, or `unknown`.
    package static let commit = GeneratedBuildInfo.commit
    /// `SOURCE_DATE_EPOCH` when set at build time, else the commit's date (so that a rebuild of
    /// the same commit is identical), in ISO 8601 UTC; `unknown` when neither is known.
    package static let buildDate = GeneratedBuildInfo.buildDate
    /// The version of the Swift compiler that built the binary, for example `6.3.1`.
    package static let swiftVersion = GeneratedBuildInfo.swiftVersion

    /// One line for `--version`: `0.1.0 (commit 1a2b3c4d5e6f, built 2026-12-02T03:12:56Z, Swift 6.3.1)`.
    package static var summary: String {
        "\(version) (commit \(commit.prefix(12)), built \(buildDate), Swift \(swiftVersion))"
    }
}
