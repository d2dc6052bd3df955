import Foundation
import Testing

@testable import PinCore

/// `/readyz`'s state check writes a page per probe: its verdict is kept for `maxAge`, so a
/// flood of probes cannot become a flood of writes.
@Suite struct StateDirectoryProbeTests {
    @Test func theVerdictIsKeptForItsMaxAgeThenProbedAgain() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pinlease-probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        let cached = StateDirectoryProbe(directory: base.path, maxAge: .seconds(3600))
        let uncached = StateDirectoryProbe(directory: base.path, maxAge: .zero)
        #expect(cached.problems().isEmpty && uncached.problems().isEmpty)
        try FileManager.default.removeItem(at: base)
        #expect(cached.problems().isEmpty)  // the verdict of the first probe, no write
        #expect(uncached.problems().count == 1)  // probed again: the directory is gone
    }
}
