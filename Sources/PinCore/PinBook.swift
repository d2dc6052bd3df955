import LinuxFS
import Logging
import Synchronization

/// Every pin the daemon holds, the budget they draw on, and the leases that use them.
///
/// A pin is first *reserved* (counted against the budget, invisible to readers) while its
/// range is mapped and locked, then *activated*. Unlock closes a file to new pins while it
/// runs, so a pin can never be created on a file that is being unlocked.
final class PinBook: Sendable {
    private enum Stage: Sendable {
        case reserved
        case active(PinnedRange)
        case failed(String)
    }

    private struct Entry: Sendable {
        var record: PinRecord
        var stage: Stage
        /// Creation order (timestamps have only second resolution).
        var sequence: Int
        var leaseIDs: Set<String> = []

        var holdsBudget: Bool {
            if case .failed = stage { false } else { true }
        }

        /// Reserved pins are not shown (nor found) until they are active.
        var isVisible: Bool {
            if case .reserved = stage { false } else { true }
        }
    }

    private struct Book: Sendable {
        var entries: [String: Entry] = [:]
        var closedFiles: Set<FileID> = []
        var nextSequence = 0

        mutating func insert(_ record: PinRecord, _ stage: Stage) {
            nextSequence += 1
            entries[record.id] = Entry(record: record, stage: stage, sequence: nextSequence)
        }
    }

    let budget: PinBudget
    private let book = Mutex(Book())
    private let store: any FileRecordStore
    private let logger: Logger

    init(budget: PinBudget, store: any FileRecordStore, logger: Logger) {
        self.budget = budget
        self.store = store
        self.logger = logger
    }

    /// Counts `record` against the budget. Fails when the budget would be exceeded or the file
    /// is being unlocked.
    func reserve(_ record: PinRecord) throws(CoreError) {
        try book.withLock { book throws(CoreError) in
            guard !book.closedFiles.contains(record.file) else {
                throw CoreError(
                    .notLocked, "\(record.path.canonical) is being unlocked",
                    extensions: ["path": .text(record.path.canonical)])
            }
            let usage = Self.usage(of: book)
            let bytes = Self.pageRounded(record.length)
            guard usage.pins < budget.maxPins, usage.bytes + bytes <= budget.maxBytes else {
                let what =
                    usage.pins >= budget.maxPins
                    ? "the daemon already holds \(usage.pins) of at most \(budget.maxPins) pins"
                    : "pinning \(bytes) more bytes would exceed the budget: "
                        + "\(usage.bytes) of \(budget.maxBytes) bytes are pinned"
                throw CoreError(
                    .pinBudgetExceeded, what,
                    extensions: [
                        "path": .text(record.path.canonical), "requested_bytes": .integer(Int64(bytes)),
                        "pinned_bytes": .integer(Int64(clamping: usage.bytes)),
                        "budget_bytes": .integer(Int64(clamping: budget.maxBytes)),
                        "pins": .integer(Int64(usage.pins)), "max_pins": .integer(Int64(budget.maxPins)),
                    ])
            }
            book.insert(record, .reserved)
        }
    }

    /// Makes a reserved pin visible with its resources.
    func activate(_ id: String, _ range: PinnedRange) {
        book.withLock { $0.entries[id]?.stage = .active(range) }
    }

    /// Records a pin that could not be (re-)created; it holds nothing.
    func fail(_ record: PinRecord, reason: String) {
        book.withLock { $0.insert(record, .failed(reason)) }
    }

    /// Gives back a reservation that did not become a pin.
    func cancel(_ id: String) {
        _ = book.withLock { $0.entries.removeValue(forKey: id) }
    }

    func pin(id: String) throws(CoreError) -> Pin {
        guard let entry = book.withLock({ $0.entries[id] }), let pin = Self.pin(entry) else {
            throw CoreError(.pinNotFound, "no pin has the id '\(id)'", extensions: ["pin_id": .text(id)])
        }
        return pin
    }

    var list: PinList { list(page: .all) }

    /// The visible pins, oldest first (by creation time, then id: the order they are re-created
    /// in after a restart), one page at a time.
    func list(page: PageRequest) -> PinList {
        let (entries, usage) = book.withLock { book in (book.entries.values.filter(\.isVisible), Self.usage(of: book)) }
        let sorted = entries.sorted { ($0.record.createdAt, $0.record.id) < ($1.record.createdAt, $1.record.id) }
        let (slice, next) = page.slice(sorted, key: Self.sortKey)
        return PinList(
            pins: slice.compactMap(Self.pin),
            usage: PinBudgetUsage(budget: budget, pinnedBytes: usage.bytes, pins: usage.pins), next: next)
    }

    /// How many visible pins are active and failed, and the budget in use, without measuring
    /// residency (``list(page:)`` runs mincore on every pin).
    func counts() -> (active: Int, failed: Int, usage: PinBudgetUsage) {
        let (active, failed, usage) = book.withLock { book in
            var active = 0
            var failed = 0
            for entry in book.entries.values {
                switch entry.stage {
                case .reserved: break
                case .active: active += 1
                case .failed: failed += 1
                }
            }
            return (active, failed, Self.usage(of: book))
        }
        return (active, failed, PinBudgetUsage(budget: budget, pinnedBytes: usage.bytes, pins: usage.pins))
    }

    /// Creation times have a fixed width, so the key sorts as (created_at, id) does.
    private static func sortKey(_ entry: Entry) -> String {
        entry.record.createdAt + " " + entry.record.id
    }

    /// The ids of the visible pins on a file.
    func pinIDs(of file: FileID) -> [String] {
        book.withLock { book in
            book.entries.values.filter { $0.record.file == file && $0.isVisible }.map(\.record.id).sorted()
        }
    }

    /// Records that lease `leaseID` uses pin `pinID` and returns the pin's record. Fails unless
    /// the pin is active; `recovering` also accepts a failed pin (a lease recorded before a
    /// restart keeps pointing at its pin, whatever became of it).
    func attachLease(_ leaseID: String, to pinID: String, recovering: Bool = false) throws(CoreError) -> PinRecord {
        try book.withLock { book throws(CoreError) in
            // Only the record is copied out: a copy of the entry would share its set of lease
            // ids, and the insert below would then copy the whole set (once per grant).
            guard let record = book.entries[pinID]?.record, let stage = book.entries[pinID]?.stage,
                book.entries[pinID]?.isVisible == true
            else {
                throw CoreError(.pinNotFound, "no pin has the id '\(pinID)'", extensions: ["pin_id": .text(pinID)])
            }
            if case .failed(let reason) = stage, !recovering {
                throw CoreError(
                    .pinNotActive, "pin \(pinID) failed (\(reason)); delete it and pin the range again",
                    extensions: ["pin_id": .text(pinID)])
            }
            book.entries[pinID]?.leaseIDs.insert(leaseID)
            return record
        }
    }

    /// Forgets that lease `leaseID` uses pin `pinID`. Returns whether the pin is now unused and
    /// was made for leases (`auto_pin`), so that the caller tears it down.
    func detachLease(_ leaseID: String, from pinID: String) -> Bool {
        book.withLock { book in
            guard book.entries[pinID]?.leaseIDs.remove(leaseID) != nil,
                let autoPin = book.entries[pinID]?.record.autoPin
            else { return false }
            return autoPin && book.entries[pinID]?.leaseIDs.isEmpty == true
        }
    }

    /// Pins made for leases that no lease uses (after a restart: the daemon stopped between
    /// the last lease's end, or a failed grant, and the teardown).
    func unusedAutoPins() -> [String] {
        book.withLock { book in book.entries.values.filter { $0.record.autoPin && $0.leaseIDs.isEmpty }.map(\.record.id)
        }
    }

    /// The durable record of pin `pinID`, whatever its stage.
    func record(of pinID: String) -> PinRecord? {
        book.withLock { $0.entries[pinID]?.record }
    }

    /// Whether pin `pinID` exists and holds its range.
    func isActive(_ pinID: String) -> Bool {
        book.withLock { book in
            if case .active? = book.entries[pinID]?.stage { true } else { false }
        }
    }

    /// Tears the pin down and forgets it. Refused while leases use it.
    func remove(id: String) throws(CoreError) {
        let removed: Entry = try book.withLock { book throws(CoreError) in
            guard let entry = book.entries[id], entry.isVisible else {
                throw CoreError(.pinNotFound, "no pin has the id '\(id)'", extensions: ["pin_id": .text(id)])
            }
            guard entry.leaseIDs.isEmpty else {
                throw CoreError(
                    .pinInUse, "pin \(id) is used by \(entry.leaseIDs.count) lease(s); revoke or release them first",
                    extensions: ["pin_id": .text(id), "lease_ids": .texts(entry.leaseIDs.sorted())])
            }
            try store.deletePin(id: id)
            book.entries[id] = nil
            return entry
        }
        logger.info(
            "unpinned \(id) (\(removed.record.path.canonical) \(removed.record.offset)+\(removed.record.length))")
        // The PinnedRange is released here, outside the lock: unregister, then munmap.
    }

    /// Closes `file` to new pins for an unlock. Fails while it has active or reserved pins;
    /// forgets its failed pins (they hold nothing).
    func closeForUnlock(_ file: FileID, path: RootedPath) throws(CoreError) {
        try book.withLock { book throws(CoreError) in
            let onFile = book.entries.values.filter { $0.record.file == file }
            let holding = onFile.filter(\.holdsBudget).map(\.record.id).sorted()
            guard holding.isEmpty else {
                throw CoreError(
                    .pinsExist, "\(path.canonical) has \(holding.count) pin(s); delete them before unlocking",
                    extensions: ["path": .text(path.canonical), "pin_ids": .texts(holding)])
            }
            for entry in onFile {
                try store.deletePin(id: entry.record.id)
                book.entries[entry.record.id] = nil
            }
            book.closedFiles.insert(file)
        }
    }

    /// Opens `file` to new pins again after an unlock finished or failed.
    func reopenAfterUnlock(_ file: FileID) {
        _ = book.withLock { $0.closedFiles.remove(file) }
    }

    private static func usage(of book: Book) -> (bytes: UInt64, pins: Int) {
        let holding = book.entries.values.filter(\.holdsBudget)
        return (holding.reduce(0) { $0 + pageRounded($1.record.length) }, holding.count)
    }

    static func pageRounded(_ length: UInt64) -> UInt64 {
        let page = UInt64(pageSize)
        return (length + page - 1) / page * page
    }

    /// The API view of an entry; `nil` while it is only reserved.
    private static func pin(_ entry: Entry) -> Pin? {
        switch entry.stage {
        case .reserved:
            return nil
        case .active(let range):
            return Pin(
                record: entry.record, state: .active, residentBytes: range.residentBytes,
                mapSync: range.mapping.isSynchronous,
                mapSyncReason: range.mapSyncReason, longTermHeld: range.longTermPin != nil,
                longTermReason: range.longTermReason,
                registeredBuffers: range.longTermPin?.bufferCount ?? 0, leaseIDs: entry.leaseIDs.sorted(), reason: nil)
        case .failed(let reason):
            return Pin(
                record: entry.record, state: .failed, residentBytes: 0, mapSync: false, mapSyncReason: nil,
                longTermHeld: false,
                longTermReason: nil, registeredBuffers: 0, leaseIDs: entry.leaseIDs.sorted(), reason: reason)
        }
    }
}
