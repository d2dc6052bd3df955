// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "pinlease",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pinleased", targets: ["pinleased"]),
        .library(name: "PinCore", targets: ["PinCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CLinux", cSettings: [.define("_GNU_SOURCE")], linkerSettings: [.linkedLibrary("uring")]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(name: "LinuxFS", dependencies: ["CLinux"], swiftSettings: strict),
        .target(name: "PinJSON", dependencies: ["CJansson"], swiftSettings: strict),
        .target(
            name: "PinCore",
            dependencies: ["LinuxFS", "PinJSON", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Infrastructure beside the domain: each implements protocols PinCore declares.
        .target(name: "PinStore", dependencies: ["PinCore", "PinWire", "PinJSON", "CSQLite"], swiftSettings: strict),
        .target(
            name: "PinWebhooks",
            dependencies: ["PinCore", "PinWire", "CCurl", "CCrypto", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The JSON forms of domain values (the API's views), beside the domain.
        .target(name: "PinWire", dependencies: ["PinCore", "PinJSON"], swiftSettings: strict),
        // The one place that builds a core from the real infrastructure (the daemon and the tests use it).
        .target(
            name: "PinAssembly",
            dependencies: ["PinCore", "PinStore", "PinWebhooks", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "PinServer",
            dependencies: [
                "PinCore", "PinWire", "PinJSON", "LinuxFS", "CMicroHTTPD", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "pinleased",
            dependencies: [
                "PinServer", "PinCore", "PinAssembly", "PinJSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "LinuxFSTests", dependencies: ["LinuxFS"], swiftSettings: strict),
        .testTarget(
            name: "PinCoreTests",
            dependencies: [
                "PinCore", "PinStore", "PinWebhooks", "PinWire", "LinuxFS", "PinJSON",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "PinWireTests", dependencies: ["PinWire", "PinCore", "PinJSON"], swiftSettings: strict),
        .testTarget(
            name: "PinStoreTests",
            dependencies: ["PinStore", "PinCore", "PinWire", "PinJSON", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PinWebhooksTests",
            dependencies: ["PinWebhooks", "PinCore", "PinWire", "PinJSON", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PinServerTests", dependencies: ["PinServer", "PinCore", "PinWire", "PinAssembly", "PinJSON"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
