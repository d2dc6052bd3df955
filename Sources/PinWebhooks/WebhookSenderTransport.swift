import Logging
import PinCore

/// The sender is the daemon's ``WebhookTransport``: the domain's ``LeaseNotifier`` decides what
/// is sent and keeps the outbox; the sender attempts and reports.
extension WebhookSender: WebhookTransport {
    /// Starts a sender whose callbacks are `reports`.
    package convenience init(configuration: WebhookConfiguration, logger: Logger, reports: WebhookDeliveryReports) {
        self.init(
            configuration: configuration, logger: logger, onAttempt: reports.attempted, onFinished: reports.finished,
            onRedeliver: reports.reopened)
    }
}
