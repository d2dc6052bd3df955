import LinuxFS

/// The most the daemon will pin: bytes (page-rounded) and number of pins.
public struct PinBudget: Sendable, Equatable {
    public var maxBytes: UInt64
    public var maxPins: Int

    public init(maxBytes: UInt64, maxPins: Int) {
        self.maxBytes = maxBytes
        self.maxPins = maxPins
    }

    /// ``defaults(physicalBytes:maxMapCount:memoryLockLimit:hasIPCLock:)`` for this machine.
    public static func defaults(memoryLockLimit: MemoryLockLimit, hasIPCLock: Bool) -> PinBudget {
        defaults(
            physicalBytes: SystemMemory.physicalBytes, maxMapCount: SystemMemory.maxMapCount,
            memoryLockLimit: memoryLockLimit, hasIPCLock: hasIPCLock)
    }

    /// Half of `physicalBytes`, capped by the soft `RLIMIT_MEMLOCK` unless the daemon has
    /// `CAP_IPC_LOCK`; at most 4096 pins and an eighth of `vm.max_map_count` (every pin is one
    /// mapping; 65530, the kernel's default, when unknown), at least one.
    public static func defaults(
        physicalBytes: UInt64, maxMapCount: Int?, memoryLockLimit: MemoryLockLimit, hasIPCLock: Bool
    ) -> PinBudget {
        var bytes = physicalBytes / 2
        if !hasIPCLock, let soft = memoryLockLimit.soft { bytes = min(bytes, soft) }
        let pins = min(4096, max(1, (maxMapCount ?? 65530) / 8))
        return PinBudget(maxBytes: bytes, maxPins: pins)
    }
}

/// How much of the budget is in use.
public struct PinBudgetUsage: Sendable {
    public let budget: PinBudget
    public let pinnedBytes: UInt64
    public let pins: Int

    package init(budget: PinBudget, pinnedBytes: UInt64, pins: Int) {
        self.budget = budget
        self.pinnedBytes = pinnedBytes
        self.pins = pins
    }
}
