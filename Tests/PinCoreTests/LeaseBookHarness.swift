import Foundation
import Glibc
import LinuxFS
import Logging
import MetricsTestKit
import PinAssembly
import PinStore
import PinTestSupport
import PinWire
import Synchronization
import Testing

@testable import PinCore

/// A clock only the test moves (shared with the timer tests).
typealias ManualClock = DeadlineTimerTests.ManualClock

/// What a harness keeps its state in: in-memory fakes (the default: fast, and a test can hold a
/// commit open), or the real SQLite stores in the harness's directory, so that the same
/// scenarios run against both and the fakes cannot drift from the real store unnoticed.
enum Backing: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case memory, sqlite

    var testDescription: String { rawValue }
}

/// A ``LeaseBook`` over a lease journal and file records (in memory, or SQLite in a temporary
/// directory: see ``Backing``; no root needed either way), a ``PinBook`` whose pins are a
/// mapped and mlocked page of a small file each, an ``EventLog``, and a ``LeaseNotifier``
/// (with the memory backing its transport only records; no lease of these tests has a webhook
/// unless the test names one). Time is a ``ManualClock``: timers fire only once the test moves it.
final class LeaseBookHarness: Sendable {
    /// The lease journal of a fresh harness.
    static func makeLeaseStore(_ backing: Backing, directory: String) throws -> any LeaseJournal {
        switch backing {
        case .memory: MemoryLeaseJournal()
        case .sqlite: try LeaseStore(directory: directory)
        }
    }

    /// The file records (pins) of a fresh harness.
    static func makeFileRecords(_ backing: Backing, directory: String) throws -> any FileRecordStore {
        switch backing {
        case .memory: MemoryFileRecords()
        case .sqlite: try StateStore(directory: directory)
        }
    }

    /// Where the book's webhooks go: a recording transport with the memory backing, the real
    /// one (libcurl; nothing listens at ``webhookPrefix``) with SQLite.
    static func makeNotifier(store: any LeaseJournal, transport: RecordingWebhookTransport?) throws -> LeaseNotifier {
        LeaseNotifier(
            configuration: WebhookConfiguration(allowList: try WebhookAllowList(prefixes: [webhookPrefix])),
            store: store,
            logger: logger, makeTransport: transport?.factory ?? CoreInfrastructure.standard.makeWebhookTransport)
    }

    /// The only webhook URLs a grant may name (nothing listens there).
    static let webhookPrefix = "http://127.0.0.1:9/hooks/"
    static let logger = Logger(label: "lease-book-test", factory: { _ in SwiftLogNoOpLogHandler() })

    let backing: Backing
    let directory: String
    let clock: ManualClock
    let pins: PinBook
    let store: any LeaseJournal
    let fileRecords: any FileRecordStore
    let events: EventLog
    /// The webhook transport (memory backing only).
    let transport: RecordingWebhookTransport?
    let notifier: LeaseNotifier
    let book: LeaseBook
    /// What the book recorded (swift-metrics' test factory: this harness's own, never the global one).
    let metrics: TestMetrics
    /// Pins the book asked to tear down (auto pins whose last lease ended), in order.
    let tornDown = Recorded()
    /// Leases the book reported as ended, in order.
    let ended = Recorded()
    /// The files of the pins (kept open while the mappings live).
    private let files = Mutex<[String: OpenFile]>([:])

    /// A fresh book; call ``close()`` (or ``stop()`` before a restart) when done.
    convenience init(
        _ backing: Backing = .memory, clock: ManualClock = ManualClock(), policy: LeasePolicy = LeasePolicy()
    ) throws {
        let directory = Self.makeDirectory()
        try self.init(
            backing: backing, directory: directory, store: try Self.makeLeaseStore(backing, directory: directory),
            fileRecords: try Self.makeFileRecords(backing, directory: directory), clock: clock, policy: policy)
    }

    /// A restart: a new book over the state `earlier` (stopped) left: the same in-memory fakes,
    /// or the SQLite stores reopened from its directory. Its pins must be made again.
    convenience init(restarting earlier: LeaseBookHarness, clock: ManualClock, policy: LeasePolicy = LeasePolicy())
        throws
    {
        let reopen = earlier.backing == .sqlite
        try self.init(
            backing: earlier.backing, directory: earlier.directory,
            store: reopen ? try LeaseStore(directory: earlier.directory) : earlier.store,
            fileRecords: reopen ? try StateStore(directory: earlier.directory) : earlier.fileRecords, clock: clock,
            policy: policy)
    }

    private init(
        backing: Backing, directory: String, store: any LeaseJournal, fileRecords: any FileRecordStore,
        clock: ManualClock,
        policy: LeasePolicy
    ) throws {
        self.backing = backing
        self.directory = directory
        self.clock = clock
        self.store = store
        self.fileRecords = fileRecords
        pins = PinBook(
            budget: PinBudget(maxBytes: 64 * UInt64(pageSize), maxPins: 16), store: fileRecords, logger: Self.logger)
        events = EventLog(lastSequence: try store.lastEventSequence()) { after, limit in
            store.events(after: after, limit: limit)
        }
        transport = backing == .memory ? RecordingWebhookTransport() : nil
        notifier = try Self.makeNotifier(store: store, transport: transport)
        let (pins, tornDown, ended) = (pins, tornDown, ended)  // not self: it is not initialized yet
        let metrics = TestMetrics()
        self.metrics = metrics
        book = LeaseBook(
            store: store, pins: pins, events: events, notifier: notifier, policy: policy,
            allowList: try WebhookAllowList(prefixes: [Self.webhookPrefix]), logger: Self.logger,
            tearDownPin: { pinID in
                tornDown.append(pinID)
                try? pins.remove(id: pinID)
            },
            leaseEnded: { lease in ended.append(lease.id) }, webhookBody: { $0.webhookBody },
            clock: clock.deadlineClock, metrics: DomainMetrics(factory: metrics))
        // On a thread of their own, as the daemon's service runs them (until `stop()` joins it).
        try book.startTimers()
    }

    /// The in-memory journal (memory backing), to hold commits open or make one fail.
    var journal: MemoryLeaseJournal? { store as? MemoryLeaseJournal }

    private static func makeDirectory() -> String {
        var template = Array("/tmp/pinlease-leasebook-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { buffer in
            guard let created = mkdtemp(buffer.baseAddress!) else { fatalError("mkdtemp failed: errno \(errno)") }
            return String(cString: created)
        }
    }

    /// Stops the timer and the notifier (the state stays, for a harness that reopens it).
    func stop() {
        book.stop()
        notifier.stop()
    }

    /// Stops and removes the directory.
    func close() {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The record of the pin `id` (the same for the same id, so a restart finds the same file).
    func pinRecord(_ id: String, autoPin: Bool = false) -> PinRecord {
        PinRecord(
            id: id, path: RootedPath(root: "data", relative: "\(id).bin"),
            file: FileID(device: 1, inode: UInt64(bitPattern: Int64(id.hashValue))),
            offset: 0, length: UInt64(pageSize), access: .read, longTerm: .no, autoPin: autoPin,
            createdAt: "2026-12-01T00:00:00Z")
    }

    /// Makes an active pin: one page of a file of its own, mapped and mlocked (a page is far
    /// below the default RLIMIT_MEMLOCK, so this needs no privilege).
    @discardableResult
    func makePin(_ id: String, autoPin: Bool = false) throws -> String {
        let record = pinRecord(id, autoPin: autoPin)
        let path = "\(directory)/\(id).bin"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LinuxError(errno: errno, call: "open", path: path) }
        let file = OpenFile(adopting: fd, path: path)
        guard ftruncate(fd, off_t(pageSize)) == 0 else { throw LinuxError(errno: errno, call: "ftruncate", path: path) }
        let mapping = try MemoryMapping(file: file, offset: 0, length: pageSize, writable: false)
        try mapping.lock()
        files.withLock { $0[id] = file }
        try pins.reserve(record)
        pins.activate(id, PinnedRange(mapping: mapping, longTermPin: nil, longTermReason: nil, mapSyncReason: nil))
        return id
    }

    /// A grant request for `pinID` (checked like the service does).
    func grant(
        on pinID: String, holder: String = "rdma-1", ttl: Int? = 60, grace: Int? = 10, webhook: String? = nil,
        autoPin: Bool = false
    ) throws -> Lease {
        let request = LeaseGrantRequest(
            target: .pin(id: pinID), holder: holder, ttlSeconds: ttl, graceSeconds: grace, webhookURL: webhook)
        return try book.grant(pinID: pinID, try book.checkGrant(request), autoPin: autoPin)
    }

    /// The durable record of lease `id` as the state database has it now.
    func stored(_ id: String) throws -> LeaseRecord? {
        try store.lease(id: id)
    }

    /// The state of lease `id` in memory.
    func state(_ id: String) -> LeaseState? {
        try? book.record(id: id, caller: .admin).state
    }

    /// The state of lease `id` once memory and the state database agree on it (a transition a
    /// timer made is in memory before it is durable); `nil` while they differ.
    func settledState(_ id: String) -> LeaseState? {
        let state = state(id)
        return (try? stored(id))??.state == state ? state : nil
    }

    /// The types of the events published so far, oldest first.
    var eventTypes: [EventType] {
        events.events(after: 0, limit: 10_000).map(\.type)
    }
}

/// Strings a callback recorded, from any thread.
final class Recorded: Sendable {
    private let items = Mutex<[String]>([])

    func append(_ item: String) { items.withLock { $0.append(item) } }

    var all: [String] { items.withLock { $0 } }
}

/// The code of the ``CoreError`` `body` throws (`nil` when it throws none).
func errorCode(_ body: () throws -> Void) -> CoreErrorCode? {
    do {
        try body()
        return nil
    } catch {
        return (error as? CoreError)?.code
    }
}
