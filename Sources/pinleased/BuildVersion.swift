/// The version and commit the daemon reports (`pinlease_build_info`). The one place they are
/// written in the daemon: a single-source version (generated at build time) replaces these.
enum BuildVersion {
    static let version = "0.1.0"
    static let commit = "unknown"
}
