import Foundation
import Glibc
import LinuxFS
import PinJSON
import Testing

@testable import PinCore

/// A root that is a subdirectory, with a file outside it on the same filesystem: what a hard
/// link from inside the root to the outside file must not reach.
@Suite struct HardLinkCheckTests {
    private struct Setup {
        let roots: Roots
        let base: String
        var root: String { base + "/root" }
        var outside: String { base + "/outside.bin" }
    }

    private func withSetup(_ body: (Setup) throws -> Void) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pinlease-links-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: base + "/root", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        _ = FileManager.default.createFile(atPath: base + "/outside.bin", contents: Data(repeating: 7, count: 4096))
        try body(Setup(roots: try Roots([RootSpec(name: "r", path: base + "/root")]), base: base))
    }

    private func code(_ body: () throws -> Void) -> CoreErrorCode? {
        do {
            try body()
            return nil
        } catch {
            return (error as? CoreError)?.code
        }
    }

    @Test func aFileWithOneNameInTheRootPasses() throws {
        try withSetup { setup in
            _ = FileManager.default.createFile(atPath: setup.root + "/own.bin", contents: Data(count: 4096))
            let path = try setup.roots.resolve("own.bin")
            let (file, _) = try setup.roots.open(path, flags: .readOnly)
            #expect(try setup.roots.requireOnlyName(file, path: path).links == 1)
        }
    }

    @Test func aHardLinkToAFileOutsideTheRootIsRefusedWithItsCount() throws {
        try withSetup { setup in
            #expect(link(setup.outside, setup.root + "/hl") == 0)
            let path = try setup.roots.resolve("hl")
            let (file, _) = try setup.roots.open(path, flags: .readOnly)
            do throws(CoreError) {
                _ = try setup.roots.requireOnlyName(file, path: path)
                Issue.record("a hard-linked file passed")
            } catch {
                #expect(error.code == .hardLinked)
                #expect(error.extensions["links"] == .integer(2))
            }
        }
    }

    /// The race: the file had one name when it was opened, a link is made before it is used.
    @Test func aLinkMadeAfterTheOpenIsCaughtOnTheDescriptor() throws {
        try withSetup { setup in
            _ = FileManager.default.createFile(atPath: setup.root + "/later.bin", contents: Data(count: 4096))
            let path = try setup.roots.resolve("later.bin")
            let (file, status) = try setup.roots.open(path, flags: .readWrite)
            #expect(status.links == 1)
            #expect(link(setup.root + "/later.bin", setup.base + "/elsewhere.bin") == 0)
            #expect(code { _ = try setup.roots.requireOnlyName(file, path: path) } == .hardLinked)
        }
    }

    /// The other race: opened through a link in the root, whose name is then removed. The
    /// descriptor now shows one link, but that one name is outside the root.
    @Test func aFileWhoseOnlyNameLeftTheRootIsRefused() throws {
        try withSetup { setup in
            #expect(link(setup.outside, setup.root + "/hl") == 0)
            let path = try setup.roots.resolve("hl")
            let (file, _) = try setup.roots.open(path, flags: .readWrite)
            #expect(unlink(setup.root + "/hl") == 0)
            #expect(try file.status().links == 1)
            #expect(code { _ = try setup.roots.requireOnlyName(file, path: path) } != nil)
        }
    }

    @Test func inspectionReportsAHardLinkedFileAsNotReady() throws {
        try withSetup { setup in
            #expect(link(setup.outside, setup.root + "/hl") == 0)
            let path = try setup.roots.resolve("hl")
            let (file, _) = try setup.roots.open(path, flags: .readOnly)
            let report = try LayoutInspector.inspectReporting(file, path: path).report
            #expect(!report.ready)
            #expect(report.reasons.map(\.code).contains("hard-linked"))
        }
    }
}
