// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
// swift-metrics' API (like swift-log: no exporter); the Prometheus exporter only in PinAssembly.
let metrics: Target.Dependency = .product(name: "CoreMetrics", package: "swift-metrics")
let prometheus: Target.Dependency = .product(name: "Prometheus", package: "swift-prometheus")

let package = Package(
    name: "pinlease",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pinleased", targets: ["pinleased"]),
        .library(name: "PinCore", targets: ["PinCore"]),
        .executable(name: "pinlease", targets: ["pinlease"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries, from Debian's -dev packages.
        .target(name: "CLinux", cSettings: [.define("_GNU_SOURCE")], linkerSettings: [.linkedLibrary("uring")]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // The one syscall layer, and JSON (jansson).
        .target(name: "LinuxFS", dependencies: ["CLinux"], swiftSettings: strict),
        // Version, commit, build date and Swift version, generated from VERSION and git (both executables).
        .target(name: "PinBuildInfo", swiftSettings: strict, plugins: ["BuildInfoPlugin"]),
        .plugin(name: "BuildInfoPlugin", capability: .buildTool()),
        .target(name: "PinJSON", dependencies: ["CJansson"], swiftSettings: strict),
        // The domain: files, locks, pins, leases. No SQLite, curl, crypto or JSON.
        .target(name: "PinCore", dependencies: ["LinuxFS", logging, metrics, serviceLifecycle], swiftSettings: strict),
        // The JSON forms of domain values (the API's views, and the documents the store keeps).
        .target(name: "PinWire", dependencies: ["PinCore", "PinJSON"], swiftSettings: strict),
        // Infrastructure beside the domain: each implements protocols PinCore declares.
        .target(
            name: "PinStore", dependencies: ["PinCore", "PinWire", "PinJSON", "LinuxFS", "CSQLite", metrics],
            swiftSettings: strict),
        .target(
            name: "PinWebhooks",
            dependencies: ["PinCore", "PinWire", "LinuxFS", "CCurl", "CCrypto", logging, serviceLifecycle],
            swiftSettings: strict
        ),
        // The one place that builds a core from the real infrastructure (the daemon and the tests use it).
        .target(
            name: "PinAssembly",
            dependencies: ["PinCore", "PinStore", "PinWebhooks", "PinWire", logging, metrics, prometheus],
            swiftSettings: strict),
        // HTTP on libmicrohttpd: routing, auth, SSE, problem+json.
        .target(
            name: "PinServer",
            dependencies: [
                "PinCore", "PinWire", "PinJSON", "LinuxFS", "PinBuildInfo", "CMicroHTTPD", logging, metrics,
                serviceLifecycle,
            ],
            swiftSettings: strict
        ),
        // Every daemon setting, declared once (flags, environment, config file, docs).
        .target(
            name: "PinSettings", dependencies: ["PinServer", "PinCore", "PinJSON", argumentParser, logging],
            swiftSettings: strict),
        .executableTarget(
            name: "pinleased",
            dependencies: [
                "PinServer", "PinCore", "PinAssembly", "LinuxFS", "PinSettings", "PinBuildInfo", argumentParser,
                logging, metrics,
                serviceLifecycle,
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // What several test targets share (temporary state directories); not part of any product.
        .target(name: "PinTestSupport", dependencies: ["LinuxFS"], path: "Tests/PinTestSupport", swiftSettings: strict),
        // The `pinlease` CLI: only the public REST API (libcurl, jansson), never the core.
        .target(name: "PinleaseClient", dependencies: ["PinJSON", "PinBuildInfo", "CCurl"], swiftSettings: strict),
        .executableTarget(
            name: "pinlease",
            dependencies: ["PinleaseClient", "PinJSON", argumentParser],
            swiftSettings: strict
        ),
        .testTarget(name: "PinleaseClientTests", dependencies: ["PinleaseClient", "PinJSON"], swiftSettings: strict),
        .testTarget(name: "LinuxFSTests", dependencies: ["LinuxFS"], swiftSettings: strict),
        .testTarget(
            name: "PinCoreTests",
            dependencies: [
                "PinCore", "PinStore", "PinWebhooks", "PinWire", "PinAssembly", "PinTestSupport", "LinuxFS", "PinJSON",
                logging,
                serviceLifecycle, metrics, .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "PinWireTests", dependencies: ["PinWire", "PinCore", "PinJSON"], swiftSettings: strict),
        .testTarget(
            name: "PinStoreTests",
            dependencies: [
                "PinStore", "PinCore", "PinWire", "PinJSON", "PinTestSupport", logging, metrics,
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PinWebhooksTests",
            dependencies: ["PinWebhooks", "PinCore", "PinWire", "PinJSON", logging, serviceLifecycle],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PinServerTests",
            dependencies: [
                "PinServer", "PinCore", "PinWire", "PinAssembly", "PinJSON", serviceLifecycle, metrics, prometheus,
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PinSettingsTests",
            dependencies: ["PinSettings", "PinCore", "PinServer", argumentParser],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
