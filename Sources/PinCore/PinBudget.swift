import LinuxFS
import PinJSON

/// The most the daemon will pin: bytes (page-rounded) and number of pins.
public struct PinBudget: Sendable, Equatable {
    public var maxBytes: UInt64
    public var maxPins: Int

    public init(maxBytes: UInt64, maxPins: Int) {
        self.maxBytes = maxBytes
        self.maxPins = maxPins
    }

    /// Half of RAM, capped by `RLIMIT_MEMLOCK` unless the daemon has `CAP_IPC_LOCK`; at most
    /// 4096 pins and an eighth of `vm.max_map_count` (every pin is one mapping).
    public static func defaults(memoryLockLimit: MemoryLockLimit, hasIPCLock: Bool) -> PinBudget {
        var bytes = SystemMemory.physicalBytes / 2
        if !hasIPCLock, let soft = memoryLockLimit.soft { bytes = min(bytes, soft) }
        let pins = min(4096, max(1, (SystemMemory.maxMapCount ?? 65530) / 8))
        return PinBudget(maxBytes: bytes, maxPins: pins)
    }
}

/// How much of the budget is in use.
public struct PinBudgetUsage: Sendable, JSONRepresentable {
    public let budget: PinBudget
    public let pinnedBytes: UInt64
    public let pins: Int

    public var json: JSON {
        .object([
            "budget_bytes": .int(Int64(clamping: budget.maxBytes)),
            "pinned_bytes": .int(Int64(clamping: pinnedBytes)),
            "max_pins": .int(Int64(budget.maxPins)),
            "pins": .int(Int64(pins)),
        ])
    }
}
