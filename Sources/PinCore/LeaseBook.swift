import Logging
import ServiceLifecycle
import Synchronization

/// Every lease, its state machine and its timers. Each transition is made in memory under one
/// lock, queued for the state database in the same order, and only acted on (events
/// published, webhooks sent, timers set, pins let go) once it is durable; the caller's answer
/// also waits for that. Concurrent transitions share one fsync (``GroupCommit``).
///
/// One concept per file: the memory and its indexes (`LeaseBookState`), the state machine
/// (`LeaseTransitions`, `LeaseRevokeAll`), how a transition becomes durable and is acted on
/// (`LeaseCommit`, `LeaseTransition`), event payloads (`LeaseEventPayload`), which events go
/// to webhooks (`LeaseOutboxPolicy`), timers (`LeaseTimers`), restart (`LeaseRecovery`),
/// pruning (`LeasePruning`), reads (`LeaseQueries`) and grant checks (`LeaseGrantCheck`).
final class LeaseBook: Sendable {
    let policy: LeasePolicy
    let allowList: WebhookAllowList
    let book: Mutex<Book>
    /// Set by a drain: no new lease from then on.
    let draining = Atomic<Bool>(false)
    let store: any LeaseJournal
    let pins: PinBook
    let events: EventLog
    let notifier: LeaseNotifier
    let timer: DeadlineTimer<TimerKey>
    /// The most expiries or deadlines one timer transition handles.
    static let timerBatch = 4096
    /// The time every transition is stamped with, and that the timers wait on.
    let clock: DeadlineClock
    let logger: Logger
    let metrics: DomainMetrics
    /// Tears down a pin made for leases once its last lease ended (runs on a background queue).
    let tearDownPin: @Sendable (String) -> Void
    /// Told of every lease that ended (after it is durable).
    let leaseEnded: @Sendable (LeaseRecord) -> Void

    init(
        store: any LeaseJournal, pins: PinBook, events: EventLog, notifier: LeaseNotifier, policy: LeasePolicy,
        allowList: WebhookAllowList,
        logger: Logger, tearDownPin: @escaping @Sendable (String) -> Void,
        leaseEnded: @escaping @Sendable (LeaseRecord) -> Void,
        webhookBody: @escaping EventBodyEncoder, clock: DeadlineClock = .system, metrics: DomainMetrics = .none
    ) {
        self.metrics = metrics
        book = Mutex(Book(webhookBody: webhookBody))
        self.store = store
        self.pins = pins
        self.events = events
        self.notifier = notifier
        self.policy = policy
        self.allowList = allowList
        self.logger = logger
        self.tearDownPin = tearDownPin
        self.leaseEnded = leaseEnded
        self.clock = clock
        // Bounded batches: each is one transition under the book's lock, which quick lease
        // requests wait for on libmicrohttpd's threads; 100k leases due at once would hold it for
        // seconds in one batch, about 0.15 s in batches of 4,096.
        timer = DeadlineTimer(name: "lease-timers", clock: clock, maxBatch: Self.timerBatch)
        timer.onFire { [weak self] keys in self?.fire(keys) }
    }

    /// The expiry and deadline timers: a service of the core (its thread runs only while it does).
    var timers: any Service { timer }

    /// Starts the timers' thread outside a service group (tests); ``stop()`` joins it.
    func startTimers() throws(CoreError) {
        try timer.start()
    }

    func stop() {
        timer.stop()
    }

    /// Refuses every grant from now on (503 `draining`).
    func refuseGrants() {
        draining.store(true, ordering: .sequentiallyConsistent)
    }

    /// Whether ``refuseGrants()`` was called.
    var isDraining: Bool { draining.load(ordering: .sequentiallyConsistent) }
}
