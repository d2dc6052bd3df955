import Testing

@testable import PinServer

@Suite("Trimming memory after connections closed")
struct ConnectionMemoryTrimTests {
    @Test("a trim once many connections closed and at most half of the peak stay open, then not again")
    func trimsAfterALargeDrop() {
        var trim = ConnectionMemoryTrim(drop: 1000)
        // 10,000 open; 800 closed (fewer than the drop); more than half still open; 6,000 closed:
        // trim (the peak is now 4,000); 500 closed since; all closed: trim; nothing changed.
        let counts = [10_000, 9_200, 5_001, 4_000, 3_500, 0, 0]
        let decisions = counts.map { trim.note(openConnections: $0) }
        #expect(decisions == [false, false, false, true, false, true, false])
    }

    @Test("few connections never lead to a trim, however they come and go")
    func smallCountsNeverTrim() {
        var trim = ConnectionMemoryTrim(drop: 1000)
        let decisions = [900, 0, 999, 1, 500, 0].map { trim.note(openConnections: $0) }
        #expect(!decisions.contains(true))
    }
}
