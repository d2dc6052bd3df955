/// Which events go to a lease's webhook, and for how long they are retried.
extension LeaseBook.Book {
    /// Queues `event` for `lease`'s webhook, if it has one and the event is of a webhook kind.
    /// A call to act (`lease.revoking`, `lease.expired`) is retried until the lease's
    /// deadline, after which it is moot; a final notice (`lease.revoked`, `lease.released`,
    /// `file.violation`) follows the webhook retry schedule (``OutboxEntry/followsRetrySchedule``).
    /// The body is written once, here, by ``webhookBody``: the stored text is what is signed and sent.
    func notify(_ lease: LeaseRecord, of event: Event, at now: Int64, _ transition: inout LeaseBook.Transition) {
        let type = event.type
        guard type.isWebhook, let url = lease.webhookURL, let secret = lease.webhookSecret else { return }
        var entry = OutboxEntry(
            id: WebhookMessage.makeID(), leaseID: lease.id, event: type, url: url, body: webhookBody(event),
            retryUntil: now, attemptsAfterDeadline: 0)
        if !entry.followsRetrySchedule { entry.retryUntil = lease.deadline ?? now }
        transition.outbox.append(entry)
        transition.secrets[lease.id] = secret
    }
}
