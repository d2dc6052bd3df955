import Foundation
import LinuxFS
import Testing

@testable import PinCore

/// The pin book with real pins (a mapped and mlocked page of a small file each, no root
/// needed): reserve → active (or failed), the budget they hold, the leases that use them, and
/// the closing of a file for an unlock.
@Suite struct PinStateMachineTests {
    private func withPins(_ body: (LeaseBookHarness) throws -> Void) throws {
        let harness = try LeaseBookHarness()
        defer { harness.close() }
        try body(harness)
    }

    private var page: UInt64 { UInt64(pageSize) }

    @Test func activePinsHoldBudgetUntilRemoved() throws {
        try withPins { harness in
            let pins = harness.pins
            try harness.makePin("pin_a")
            try harness.makePin("pin_b")
            #expect(pins.list.usage.pins == 2 && pins.list.usage.pinnedBytes == 2 * page)
            #expect(pins.list.pins.map(\.id) == ["pin_a", "pin_b"])
            let active = try pins.pin(id: "pin_a")
            #expect(active.state == .active && active.residentBytes == page)
            #expect(pins.isActive("pin_a"))
            try pins.remove(id: "pin_a")
            #expect(pins.list.usage.pins == 1 && pins.list.usage.pinnedBytes == page)
            #expect(errorCode { _ = try pins.pin(id: "pin_a") } == .pinNotFound)
            #expect(errorCode { try pins.remove(id: "pin_a") } == .pinNotFound)
        }
    }

    @Test func leasesAttachOnlyToActivePinsAndKeepThemFromRemoval() throws {
        try withPins { harness in
            let pins = harness.pins
            try harness.makePin("pin_a")
            _ = try pins.attachLease("lease_1", to: "pin_a")
            _ = try pins.attachLease("lease_2", to: "pin_a")
            #expect(try pins.pin(id: "pin_a").leaseIDs == ["lease_1", "lease_2"])
            #expect(errorCode { try pins.remove(id: "pin_a") } == .pinInUse)
            #expect(errorCode { _ = try pins.attachLease("lease_3", to: "pin_nope") } == .pinNotFound)
            #expect(!pins.detachLease("lease_1", from: "pin_a"))  // not an auto pin: never torn down
            #expect(!pins.detachLease("lease_2", from: "pin_a"))
            #expect(!pins.detachLease("lease_2", from: "pin_a"))  // detached already
            try pins.remove(id: "pin_a")

            // A failed pin takes no lease, except one recovered after a restart.
            pins.fail(harness.pinRecord("pin_failed"), reason: "the file is gone")
            #expect(errorCode { _ = try pins.attachLease("lease_4", to: "pin_failed") } == .pinNotActive)
            _ = try pins.attachLease("lease_4", to: "pin_failed", recovering: true)
            #expect(try pins.pin(id: "pin_failed").leaseIDs == ["lease_4"])
            #expect(!pins.isActive("pin_failed"))
        }
    }

    @Test func anAutoPinIsUnusedOnlyWhenItsLastLeaseIsDetached() throws {
        try withPins { harness in
            let pins = harness.pins
            try harness.makePin("pin_auto", autoPin: true)
            #expect(pins.unusedAutoPins() == ["pin_auto"])  // e.g. a grant that failed before a restart
            _ = try pins.attachLease("lease_1", to: "pin_auto")
            _ = try pins.attachLease("lease_2", to: "pin_auto")
            #expect(pins.unusedAutoPins() == [])
            #expect(!pins.detachLease("lease_1", from: "pin_auto"))
            #expect(pins.detachLease("lease_2", from: "pin_auto"))  // the last one: tear it down
            #expect(!pins.detachLease("lease_2", from: "pin_auto"))  // told once only
            #expect(pins.unusedAutoPins() == ["pin_auto"])
            try pins.remove(id: "pin_auto")
            #expect(pins.list.usage.pins == 0)
        }
    }

    @Test func aFileClosedForUnlockTakesNoPinUntilReopened() throws {
        try withPins { harness in
            let pins = harness.pins
            try harness.makePin("pin_a")
            let file = harness.pinRecord("pin_a").file
            let path = harness.pinRecord("pin_a").path
            let refused = #expect(throws: CoreError.self) { try pins.closeForUnlock(file, path: path) }
            #expect(refused?.code == .pinsExist)
            try pins.remove(id: "pin_a")

            try pins.closeForUnlock(file, path: path)
            #expect(errorCode { try pins.reserve(harness.pinRecord("pin_a")) } == .notLocked)
            #expect(pins.list.usage.pins == 0)  // the refused reservation holds nothing
            pins.reopenAfterUnlock(file)
            try harness.makePin("pin_a")
            #expect(pins.isActive("pin_a"))
        }
    }

    @Test func aReservationIsInvisibleAndHoldsBudgetUntilActivatedOrCancelled() throws {
        try withPins { harness in
            let pins = harness.pins
            try pins.reserve(harness.pinRecord("pin_reserved"))
            #expect(pins.list.usage.pins == 1 && pins.list.pins.isEmpty)
            #expect(errorCode { _ = try pins.attachLease("lease_1", to: "pin_reserved") } == .pinNotFound)
            #expect(pins.pinIDs(of: harness.pinRecord("pin_reserved").file) == [])
            pins.cancel("pin_reserved")
            #expect(pins.list.usage.pins == 0)
        }
    }
}
