import Foundation
import Glibc
import LinuxFS
import Logging
import Synchronization
@testable import PinCore
import PinAssembly
import PinStore
import PinTestSupport
import PinWire

/// A clock only the test moves (shared with the timer tests).
typealias ManualClock = DeadlineTimerTests.ManualClock

/// A ``LeaseBook`` with real collaborators in a temporary directory (no root needed): the state
/// database, a ``PinBook`` whose pins are a mapped and mlocked page of a small file each, an
/// ``EventLog``, and a ``LeaseNotifier`` (no lease of these tests has a webhook, so it sends
/// nothing). Time is a ``ManualClock``: timers fire only once the test moves it.
///
/// The store and the notifier come from the two factories below: when in-memory fakes of them
/// exist, swapping one in is a change of one line there.
final class LeaseBookHarness: Sendable {
    /// The state database the book writes to. (One line to change for an in-memory fake.)
    static func makeLeaseStore(directory: String) throws -> LeaseStore {
        try LeaseStore(directory: directory)
    }

    /// Where the book's webhooks would go. (One line to change for an in-memory fake.)
    static func makeNotifier(store: LeaseStore) throws -> LeaseNotifier {
        LeaseNotifier(
            configuration: WebhookConfiguration(allowList: try WebhookAllowList(prefixes: [webhookPrefix])), store: store,
            logger: logger, makeTransport: CoreInfrastructure.standard.makeWebhookTransport)
    }

    /// The only webhook URLs a grant may name (nothing listens there).
    static let webhookPrefix = "http://127.0.0.1:9/hooks/"
    static let logger = Logger(label: "lease-book-test", factory: { _ in SwiftLogNoOpLogHandler() })

    let directory: String
    let clock: ManualClock
    let pins: PinBook
    let store: LeaseStore
    let events: EventLog
    let notifier: LeaseNotifier
    let book: LeaseBook
    /// Pins the book asked to tear down (auto pins whose last lease ended), in order.
    let tornDown = Recorded()
    /// Leases the book reported as ended, in order.
    let ended = Recorded()
    /// The files of the pins (kept open while the mappings live).
    private let files = Mutex<[String: OpenFile]>([:])

    /// A fresh book, or (with `directory`) one over the state an earlier harness left there;
    /// call ``close()`` (or ``stop()`` to reopen the directory) when done.
    init(directory: String? = nil, clock: ManualClock = ManualClock(), policy: LeasePolicy = LeasePolicy()) throws {
        let directory = directory ?? Self.makeDirectory()
        self.directory = directory
        self.clock = clock
        pins = PinBook(budget: PinBudget(maxBytes: 64 * UInt64(pageSize), maxPins: 16), store: try StateStore(directory: directory),
                       logger: Self.logger)
        let store = try Self.makeLeaseStore(directory: directory)
        self.store = store
        events = EventLog(lastSequence: try store.lastEventSequence()) { after, limit in store.events(after: after, limit: limit) }
        notifier = try Self.makeNotifier(store: store)
        let (pins, tornDown, ended) = (pins, tornDown, ended)  // not self: it is not initialized yet
        book = LeaseBook(
            store: store, pins: pins, events: events, notifier: notifier, policy: policy,
            allowList: try WebhookAllowList(prefixes: [Self.webhookPrefix]), logger: Self.logger,
            tearDownPin: { pinID in
                tornDown.append(pinID)
                try? pins.remove(id: pinID)
            },
            leaseEnded: { lease in ended.append(lease.id) }, webhookBody: { $0.webhookBody },
            clock: clock.deadlineClock)
        // On a thread of their own, as the daemon's service runs them (until `stop()` joins it).
        try book.startTimers()
    }

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
            id: id, path: RootedPath(root: "data", relative: "\(id).bin"), file: FileID(device: 1, inode: UInt64(bitPattern: Int64(id.hashValue))),
            offset: 0, length: UInt64(pageSize), access: .read, longTerm: .no, autoPin: autoPin, createdAt: "2026-12-01T00:00:00Z")
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
        on pinID: String, holder: String = "rdma-1", ttl: Int? = 60, grace: Int? = 10, webhook: String? = nil, autoPin: Bool = false
    ) throws -> Lease {
        let request = LeaseGrantRequest(target: .pin(id: pinID), holder: holder, ttlSeconds: ttl, graceSeconds: grace, webhookURL: webhook)
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

/// Polls `condition` every 2 ms until it holds; false after `timeout` (only a broken book gets
/// there: a timer fires within about a second of the clock being moved).
func waitUntil(timeout: Duration = .seconds(60), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        usleep(2000)
    }
    return true
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
