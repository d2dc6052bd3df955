import Foundation
import Testing

@testable import PinCore

@Suite struct RootsTests {
    @Test func rootSpecNamesDefaultToTheDirectoryName() throws {
        #expect(try RootSpec.parse("./var/data/") == RootSpec(name: "data", path: "./var/data"))
        #expect(try RootSpec.parse("fast=/mnt/nvme0") == RootSpec(name: "fast", path: "/mnt/nvme0"))
        #expect { try RootSpec.parse("a:b=/x") } throws: { ($0 as? CoreError)?.code == .invalidPath }
    }

    private func withRoots(_ body: (Roots) throws -> Void) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pinlease-roots-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: base + "/one", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: base + "/two", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        try body(try Roots([RootSpec(name: "one", path: base + "/one"), RootSpec(name: "two", path: base + "/two")]))
    }

    @Test func pathsResolveToTheirRoot() throws {
        try withRoots { roots throws in
            #expect(try roots.resolve("a/./b.bin") == RootedPath(root: "one", relative: "a/b.bin"))
            #expect(try roots.resolve("two:x.bin").canonical == "two:x.bin")
            #expect(try roots.resolve("dir/with:colon").canonical == "one:dir/with:colon")
        }
    }

    @Test(arguments: [
        ("", CoreErrorCode.invalidPath), ("/etc/passwd", .absolutePath), ("two:/etc/passwd", .absolutePath),
        ("../x", .pathTraversal), ("a/../../x", .pathTraversal), ("nope:a.bin", .unknownRoot), (".", .isADirectory),
    ])
    func lexicallyBadPathsAreRefused(path: String, code: CoreErrorCode) throws {
        try withRoots { roots throws in
            #expect { try roots.resolve(path) } throws: { ($0 as? CoreError)?.code == code }
        }
    }
}
