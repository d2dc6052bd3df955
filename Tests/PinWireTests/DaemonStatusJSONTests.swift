import PinJSON
import Testing

@testable import PinCore
@testable import PinWire

/// `GET /v1/status`'s document: every state of each group present (0 when none), in a fixed order.
@Suite struct DaemonStatusJSONTests {
    @Test func theStatusHasItsExactJSON() {
        let status = DaemonStatus(
            filesByState: [.violated: 1, .locked: 2], pinsByState: [.active: 3],
            budget: PinBudgetUsage(budget: PinBudget(maxBytes: 1 << 30, maxPins: 64), pinnedBytes: 12288, pins: 3),
            leasesByState: [.revoking: 1, .active: 4], lastEventSequence: 42)
        let expected =
            #"{"files":{"locked":2,"degraded":0,"violated":1},"pins":{"active":3,"failed":0},"#
            + #""budget":{"budget_bytes":1073741824,"pinned_bytes":12288,"max_pins":64,"pins":3},"#
            + #""leases":{"active":4,"revoking":1,"released":0,"revoked":0,"expired":0},"#
            + #""events":{"last_sequence":42}}"#
        #expect(JSONCodec.encode(status.json) == expected)
    }
}
