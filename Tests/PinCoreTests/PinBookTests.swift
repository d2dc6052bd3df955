import Foundation
import LinuxFS
import Logging
import PinJSON
import Testing

@testable import PinCore

@Suite struct PinBookTests {
    private func withBook(_ budget: PinBudget, _ body: (PinBook) throws -> Void) throws {
        try body(PinBook(budget: budget, store: MemoryFileRecords(), logger: Logger(label: "test")))
    }

    private func record(_ id: String, file: UInt64 = 1, length: UInt64 = 4096) -> PinRecord {
        PinRecord(
            id: id, path: RootedPath(root: "data", relative: "f\(file).bin"), file: FileID(device: 1, inode: file),
            offset: 0,
            length: length, access: .read, longTerm: .no, autoPin: false, createdAt: "2026-11-25T00:00:00Z")
    }

    private func code(_ body: () throws -> Void) -> CoreErrorCode? {
        do {
            try body()
            return nil
        } catch {
            return (error as? CoreError)?.code
        }
    }

    @Test func reservationsCountAgainstBytesAndPins() throws {
        try withBook(PinBudget(maxBytes: 3 * 4096, maxPins: 2)) { book in
            try book.reserve(record("a", length: 100))  // counts as one page
            #expect(code { try book.reserve(record("b", length: 3 * 4096)) } == .pinBudgetExceeded)
            try book.reserve(record("b", length: 2 * 4096))
            #expect(code { try book.reserve(record("c", length: 1)) } == .pinBudgetExceeded)
            #expect(book.list.usage.pins == 2 && book.list.usage.pinnedBytes == 3 * 4096)
            #expect(book.list.pins.isEmpty)  // reserved pins are not visible yet
            book.cancel("b")
            try book.reserve(record("c", length: 1))
        }
    }

    @Test func failedPinsHoldNoBudgetAndAreForgottenByUnlock() throws {
        try withBook(PinBudget(maxBytes: 4096, maxPins: 1)) { book in
            book.fail(record("dead"), reason: "gone")
            #expect(try book.pin(id: "dead").state == .failed)
            try book.reserve(record("live", file: 2))
            let path = RootedPath(root: "data", relative: "f1.bin")
            try book.closeForUnlock(FileID(device: 1, inode: 1), path: path)
            #expect(code { _ = try book.pin(id: "dead") } == .pinNotFound)
            #expect(code { try book.reserve(self.record("new", file: 1)) } == .notLocked)
            book.reopenAfterUnlock(FileID(device: 1, inode: 1))
        }
    }

    @Test func unlockIsRefusedWhilePinsHoldTheFile() throws {
        try withBook(PinBudget(maxBytes: 1 << 20, maxPins: 8)) { book in
            try book.reserve(record("held"))
            let error = #expect(throws: CoreError.self) {
                try book.closeForUnlock(FileID(device: 1, inode: 1), path: RootedPath(root: "data", relative: "f1.bin"))
            }
            #expect(error?.code == .pinsExist)
            #expect(error?.extensions["pin_ids"] == .list([.text("held")]))
        }
    }

    @Test func unknownPinsAreNotFound() throws {
        try withBook(PinBudget(maxBytes: 1 << 20, maxPins: 8)) { book in
            #expect(code { try book.remove(id: "pin_nope") } == .pinNotFound)
            #expect(code { _ = try book.pin(id: "pin_nope") } == .pinNotFound)
        }
    }

    @Test func defaultBudgetIsHalfOfMemoryCappedByTheMemlockLimit() {
        let gib: UInt64 = 1 << 30
        let unlimited = MemoryLockLimit(soft: nil, hard: nil)
        let eightMiB = MemoryLockLimit(soft: 8 << 20, hard: 16 << 20)
        func budget(_ memory: UInt64, maps: Int? = 65530, _ limit: MemoryLockLimit, ipcLock: Bool = false) -> PinBudget
        {
            PinBudget.defaults(physicalBytes: memory, maxMapCount: maps, memoryLockLimit: limit, hasIPCLock: ipcLock)
        }
        // Half of memory when nothing lower applies.
        #expect(budget(16 * gib, unlimited).maxBytes == 8 * gib)
        #expect(budget(3 * gib + 8192, unlimited).maxBytes == 3 * gib / 2 + 4096)
        #expect(budget(16 * gib, MemoryLockLimit(soft: 64 * gib, hard: nil)).maxBytes == 8 * gib)
        // The soft RLIMIT_MEMLOCK caps it, unless CAP_IPC_LOCK lifts the limit.
        #expect(budget(16 * gib, eightMiB).maxBytes == 8 << 20)
        #expect(budget(16 * gib, eightMiB, ipcLock: true).maxBytes == 8 * gib)
        #expect(budget(8 << 20, MemoryLockLimit(soft: 16 << 20, hard: nil)).maxBytes == 4 << 20)
        // Pins: an eighth of vm.max_map_count, at most 4096, at least 1, 65530 when unknown.
        #expect(budget(gib, maps: 65530, unlimited).maxPins == 4096)
        #expect(budget(gib, maps: 8000, unlimited).maxPins == 1000)
        #expect(budget(gib, maps: nil, unlimited).maxPins == 4096)
        #expect(budget(gib, maps: 7, unlimited).maxPins == 1)
        // This machine's defaults are the same function of its own figures.
        let here = PinBudget.defaults(memoryLockLimit: eightMiB, hasIPCLock: true)
        #expect(here == budget(SystemMemory.physicalBytes, maps: SystemMemory.maxMapCount, eightMiB, ipcLock: true))
        #expect(here.maxBytes == SystemMemory.physicalBytes / 2)
    }
}
