import Logging
import ServiceLifecycle

/// Delivers webhook messages (PinWebhooks: signed POSTs over libcurl, retried on the message's
/// schedule). What is sent, kept and retried after a restart is the ``LeaseNotifier``'s outbox
/// policy; the transport only attempts, and reports each attempt through ``WebhookDeliveryReports``.
/// Every call returns at once and may be made from any thread.
package protocol WebhookTransport: Service {
    /// Queues a message; one with the id of a message still pending is ignored.
    func send(_ message: WebhookMessage)
    /// Attempts `message` now, pending or finished (an operator's retry).
    func redeliver(_ message: WebhookMessage)
    /// Stops attempting the pending messages of a lease (only those of `eventTypes`, if given).
    func cancel(leaseID: String, eventTypes: Set<EventType>?)
    /// Messages not yet finished.
    var pendingCount: Int { get }
    /// Messages not yet finished, by origin (`scheme://host:port`).
    var pendingByOrigin: [String: Int] { get }
    /// Stops sending; unfinished messages are reported neither delivered nor failed. Also what
    /// ends ``run()`` (which sends on the transport's own thread until then).
    func shutdown()
}

extension WebhookTransport {
    /// Transports that do not track origins (test fakes) report none.
    package var pendingByOrigin: [String: Int] { [:] }
}

/// Where a ``WebhookTransport`` reports what became of each message; called on the transport's
/// thread, so each must return quickly.
package struct WebhookDeliveryReports: Sendable {
    /// Every attempt, including refused connections and timeouts (the delivery log).
    package var attempted: @Sendable (DeliveryAttempt) -> Void
    /// Once per message: `.delivered` or `.failed(reason)`.
    package var finished: @Sendable (WebhookMessage, DeliveryAttempt.Outcome) -> Void
    /// A ``WebhookTransport/redeliver(_:)`` was taken up, after this many attempts.
    package var reopened: @Sendable (WebhookMessage, Int) -> Void

    package init(
        attempted: @escaping @Sendable (DeliveryAttempt) -> Void,
        finished: @escaping @Sendable (WebhookMessage, DeliveryAttempt.Outcome) -> Void,
        reopened: @escaping @Sendable (WebhookMessage, Int) -> Void
    ) {
        self.attempted = attempted
        self.finished = finished
        self.reopened = reopened
    }
}

/// Makes the transport of a ``LeaseNotifier`` (which exists first: the reports go to it).
package typealias WebhookTransportFactory =
    @Sendable (WebhookConfiguration, Logger, WebhookDeliveryReports) -> any WebhookTransport
