import Logging
import PinJSON
import Synchronization

/// Sends the lease book's webhook messages (``WebhookSender``) and keeps their traces: every
/// attempt goes to the delivery log, every finished message leaves the durable outbox. Both
/// are written in batches (every 100 ms), off the request and commit paths.
final class LeaseNotifier: Sendable {
    private struct Pending: Sendable {
        var attempts: [DeliveryRecord] = []
        var finished: [String] = []
    }

    private let store: LeaseStore
    private let logger: Logger
    private let pending = Mutex(Pending())
    private let sender: Mutex<WebhookSender?> = Mutex(nil)
    private let flusher: Mutex<PeriodicTask?> = Mutex(nil)

    init(configuration: WebhookConfiguration, store: LeaseStore, logger: Logger) {
        self.store = store
        self.logger = logger
        let webhookSender = WebhookSender(
            configuration: configuration, logger: logger,
            onAttempt: { [weak self] attempt in
                guard case .object(let json) = attempt.json else { return }
                self?.pending.withLock { $0.attempts.append(DeliveryRecord(leaseID: attempt.leaseID, json: json)) }
            },
            onFinished: { [weak self] message, _ in
                self?.pending.withLock { $0.finished.append(message.id) }
            })
        sender.withLock { $0 = webhookSender }
        flusher.withLock { $0 = PeriodicTask(name: "delivery-log", interval: .milliseconds(100)) { [weak self] in self?.flush() } }
    }

    /// Sends outbox entries; `secrets` maps lease ids to their webhook secrets.
    func send(_ entries: [OutboxEntry], secrets: [String: String]) {
        guard !entries.isEmpty, let sender = sender.withLock({ $0 }) else { return }
        for entry in entries {
            guard let secret = secrets[entry.leaseID] else {
                logger.error("webhook \(entry.id) for \(entry.leaseID) has no secret; dropped")
                pending.withLock { $0.finished.append(entry.id) }
                continue
            }
            sender.send(WebhookMessage(
                id: entry.id, leaseID: entry.leaseID, eventType: entry.event, url: entry.url, secret: secret, body: Array(entry.body.utf8),
                retryUntil: Double(entry.retryUntil) / 1000, attemptsAfterDeadline: entry.attemptsAfterDeadline))
        }
    }

    /// Drops outbox entries that no longer need sending (they leave the outbox with the next flush).
    func forget(_ messageIDs: [String]) {
        guard !messageIDs.isEmpty else { return }
        pending.withLock { $0.finished += messageIDs }
    }

    /// Stops retrying the calls to act of a lease (`lease.revoking`, `lease.expired`): it ended,
    /// or its deadline moved and a new message replaces them.
    func cancel(leaseID: String) {
        sender.withLock { $0 }?.cancel(leaseID: leaseID, eventTypes: [.leaseRevoking, .leaseExpired])
    }

    /// The delivery log of a lease, oldest attempt first.
    func deliveries(leaseID: String) throws(CoreError) -> [JSONObject] {
        let unflushed = pending.withLock { $0.attempts.filter { $0.leaseID == leaseID }.map(\.json) }
        return try store.deliveries(leaseID: leaseID) + unflushed
    }

    /// Messages not yet finished.
    var pendingCount: Int { sender.withLock { $0 }?.pendingCount ?? 0 }

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

    private func flush() {
        let batch = pending.withLock { pending in
            defer { pending = Pending() }
            return pending
        }
        guard !batch.attempts.isEmpty || !batch.finished.isEmpty else { return }
        do throws(CoreError) {
            try store.recordDeliveries(batch.attempts, finishedOutbox: batch.finished)
        } catch {
            logger.error("could not write \(batch.attempts.count) delivery record(s): \(error.detail)")
            pending.withLock { $0.attempts.insert(contentsOf: batch.attempts, at: 0); $0.finished += batch.finished }
        }
    }
}
