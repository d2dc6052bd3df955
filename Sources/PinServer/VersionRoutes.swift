import LinuxFS
import PinBuildInfo
import PinJSON

/// `GET /v1/version`: what the daemon was built from and the kernel it runs on. Any valid token
/// (the kernel release is no business of anonymous callers).
enum VersionRoutes {
    static func routes() -> [Route] {
        [
            Route("GET", "/v1/version", access: .authenticated) { _ in
                .json(document)
            }
        ]
    }

    /// The version document; `pinleased --version` prints the same build info.
    static var document: JSON {
        [
            "version": .string(BuildInfo.version),
            "commit": .string(BuildInfo.commit),
            "build_date": .string(BuildInfo.buildDate),
            "swift_version": .string(BuildInfo.swiftVersion),
            "kernel": .string(kernelRelease),
        ]
    }
}
