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
        .executable(name: "pinlease", targets: ["pinlease"]),
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
            dependencies: ["LinuxFS", "PinJSON", "CSQLite", "CCurl", "CCrypto", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "PinServer",
            dependencies: ["PinCore", "PinJSON", "LinuxFS", "CMicroHTTPD", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "pinleased",
            dependencies: [
                "PinServer", "PinCore", "PinJSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The `pinlease` CLI: only the public REST API (libcurl, jansson), never the core.
        .target(name: "PinleaseClient", dependencies: ["PinJSON", "CCurl"], swiftSettings: strict),
        .executableTarget(
            name: "pinlease",
            dependencies: ["PinleaseClient", "PinJSON", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .testTarget(name: "PinleaseClientTests", dependencies: ["PinleaseClient", "PinJSON"], swiftSettings: strict),
        .testTarget(name: "LinuxFSTests", dependencies: ["LinuxFS"], swiftSettings: strict),
        .testTarget(
            name: "PinCoreTests",
            dependencies: ["PinCore", "LinuxFS", "PinJSON", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(name: "PinServerTests", dependencies: ["PinServer", "PinCore", "PinJSON"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
