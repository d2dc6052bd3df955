import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Sends the lease book's webhook messages (through a ``WebhookTransport``) and keeps their
/// traces: every attempt goes to the delivery log, and the durable outbox follows each message
/// (attempts made, next attempt, outcome), so a restart resumes where it was. Both are written
/// in batches (every 100 ms), off the request and commit paths. The outbox policy (what is
/// resent, what a final notice is, what an operator's retry reopens) is decided here; the
/// transport only attempts. A service: it sends and writes from ``run()`` until graceful
/// shutdown or cancellation.
final class LeaseNotifier: Service {
    private struct Pending: Sendable {
        var attempts: [DeliveryRecord] = []
        var outbox: [OutboxUpdate] = []
    }

    private let store: any LeaseJournal
    private let logger: Logger
    private let pending = Mutex(Pending())
    /// Held while a batch is written, so batches reach the database in the order they were taken.
    private let writing = Mutex(())
    private let sender: Mutex<(any WebhookTransport)?> = Mutex(nil)
    private let flusher: Mutex<PeriodicTask?> = Mutex(nil)
    /// Told each time a message finished, for ``waitUntilDelivered(by:)``.
    private let finishedMessages = ChangeSignal()

    init(
        configuration: WebhookConfiguration, store: any LeaseJournal, logger: Logger,
        makeTransport: WebhookTransportFactory, metrics: DomainMetrics = .none
    ) {
        self.store = store
        self.logger = logger
        let reports = WebhookDeliveryReports(
            attempted: { [weak self] attempt in
                metrics.recordAttempt(attempt)
                self?.pending.withLock { pending in
                    pending.attempts.append(DeliveryRecord(attempt))
                    var next: Int64?
                    if case .retrying(let at) = attempt.outcome { next = Int64(at * 1000) }
                    pending.outbox.append(
                        .attempted(id: attempt.messageID, attempts: attempt.attempt, nextAttemptAt: next))
                }
            },
            finished: { [weak self] message, outcome in
                metrics.recordFinished(outcome)
                let text: String =
                    switch outcome {
                    case .delivered: "delivered"
                    case .failed(let reason): reason
                    case .retrying: "retrying"  // never reported as finished
                    }
                self?.pending.withLock {
                    $0.outbox.append(.finished(id: message.id, outcome: text, at: WallClock.nowMilliseconds()))
                }
                self?.finishedMessages.changed()
            },
            reopened: { [weak self] message, attempts in
                self?.pending.withLock {
                    $0.outbox.append(.reopened(id: message.id, attempts: attempts, at: WallClock.nowMilliseconds()))
                }
            })
        let webhookSender = makeTransport(configuration, logger, reports)
        sender.withLock { $0 = webhookSender }
        flusher.withLock {
            $0 = PeriodicTask(name: "delivery-log", interval: .milliseconds(100)) { [weak self] in self?.flush() }
        }
    }

    /// Sends outbox entries (from their recorded attempt count and next attempt time);
    /// `secrets` maps lease ids to their webhook secrets.
    func send(_ entries: [OutboxEntry], secrets: [String: String]) {
        guard !entries.isEmpty, let sender = sender.withLock({ $0 }) else { return }
        for entry in entries {
            guard let message = message(entry, secrets: secrets) else { continue }
            sender.send(message)
        }
    }

    /// An operator's retry: attempts outbox entry `messageID` of lease `leaseID` now, whether it
    /// is pending or finished, and returns it as it is now. Throws `.deliveryNotFound` when the lease
    /// has no such message. The entry is pending again in the outbox with the next batch.
    func redeliver(messageID: String, leaseID: String, secret: String?) throws(CoreError) -> OutboxEntry {
        guard var entry = try store.outboxEntry(id: messageID), entry.leaseID == leaseID else {
            throw CoreError(
                .deliveryNotFound, "lease \(leaseID) has no webhook message '\(messageID)'",
                extensions: ["lease_id": .text(leaseID), "webhook_id": .text(messageID)])
        }
        guard let secret, let sender = sender.withLock({ $0 }) else {
            throw CoreError(
                .systemError, "the webhook of lease \(leaseID) cannot be sent: no secret, or the daemon is stopping")
        }
        let now = WallClock.nowMilliseconds()
        entry.finishedAt = nil
        entry.outcome = nil
        entry.nextAttemptAt = now
        if let message = message(entry, secrets: [leaseID: secret], redelivery: true) { sender.redeliver(message) }
        return entry
    }

    /// Drops outbox entries that no longer need sending (finished with the next flush).
    func forget(_ messageIDs: [String]) {
        guard !messageIDs.isEmpty else { return }
        let now = WallClock.nowMilliseconds()
        pending.withLock { $0.outbox += messageIDs.map { .finished(id: $0, outcome: "stale", at: now) } }
    }

    /// Stops retrying the calls to act of a lease (`lease.revoking`, `lease.expired`): it ended,
    /// or its deadline moved and a new message replaces them.
    func cancel(leaseID: String) {
        sender.withLock { $0 }?.cancel(leaseID: leaseID, eventTypes: [.leaseRevoking, .leaseExpired])
    }

    /// The delivery log of a lease, oldest attempt first. Read under `writing`: a batch being
    /// written is in neither the store nor `pending`, so the log would briefly miss it.
    func deliveries(leaseID: String) throws(CoreError) -> [DeliveryRecord] {
        try writing.withLock { _ throws(CoreError) in
            let unflushed = pending.withLock { $0.attempts.filter { $0.leaseID == leaseID } }
            return try store.deliveries(leaseID: leaseID) + unflushed
        }
    }

    /// Messages not yet finished.
    var pendingCount: Int { sender.withLock { $0 }?.pendingCount ?? 0 }

    /// Messages not yet finished, by origin.
    var pendingByOrigin: [String: Int] { sender.withLock { $0 }?.pendingByOrigin ?? [:] }

    /// Waits until no message is pending or `deadline` (wall clock) passed; true when none is.
    @discardableResult
    func waitUntilDelivered(by deadline: Date) -> Bool {
        finishedMessages.wait(until: deadline) { pendingCount == 0 }
    }

    /// Runs the sender's thread and the delivery log's writer until graceful shutdown or
    /// cancellation, then stops as ``stop()`` does.
    func run() async throws {
        guard let sender = sender.withLock({ $0 }), let flusher = flusher.withLock({ $0 }) else { return }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await sender.run() }
            group.addTask { try await flusher.run() }
            try await group.waitForAll()
        }
        try await blocking("delivery-log-end") { [self] in stop() }
    }

    /// Stops sending (what is unfinished stays in the outbox for the next start) and writes
    /// what the log still holds.
    func stop() {
        flusher.withLock { $0 }?.stop()
        sender.withLock { sender in
            sender?.shutdown()
            sender = nil
        }
        flush()
    }

    private func message(_ entry: OutboxEntry, secrets: [String: String], redelivery: Bool = false) -> WebhookMessage? {
        guard let secret = secrets[entry.leaseID] else {
            logger.error("webhook \(entry.id) for \(entry.leaseID) has no secret; dropped")
            forget([entry.id])
            return nil
        }
        return WebhookMessage(
            id: entry.id, leaseID: entry.leaseID, eventType: entry.event, url: entry.url, secret: secret,
            body: Array(entry.body.utf8),
            retryUntil: Double(entry.retryUntil) / 1000, attemptsAfterDeadline: entry.attemptsAfterDeadline,
            followsRetrySchedule: entry.followsRetrySchedule, attemptsMade: entry.attempts,
            firstAttemptAt: redelivery ? nil : entry.nextAttemptAt.map { Double($0) / 1000 })
    }

    private func flush() {
        writing.withLock { _ in
            do throws(CoreError) { try writeBatch() } catch {}  // logged, and kept for the next flush
        }
    }

    /// Writes what the log and outbox updates hold (under `writing`); on failure they are kept for the next flush.
    private func writeBatch() throws(CoreError) {
        let batch = pending.withLock { pending in
            defer { pending = Pending() }
            return pending
        }
        guard !batch.attempts.isEmpty || !batch.outbox.isEmpty else { return }
        do throws(CoreError) {
            try store.recordDeliveries(batch.attempts, outbox: batch.outbox)
        } catch {
            logger.error("could not write \(batch.attempts.count) delivery record(s): \(error.detail)")
            pending.withLock {
                $0.attempts.insert(contentsOf: batch.attempts, at: 0)
                $0.outbox.insert(contentsOf: batch.outbox, at: 0)
            }
            throw error
        }
    }
}
