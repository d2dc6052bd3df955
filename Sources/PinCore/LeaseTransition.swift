import Dispatch

/// What one transition changed and must do once it is durable, and the doing of it.
extension LeaseBook {
    /// What a finished transition must do once durable.
    struct Transition: Sendable {
        var leases: [LeaseRecord] = []
        var events: [Event] = []
        var outbox: [OutboxEntry] = []
        var secrets: [String: String] = [:]
        var timers: [(TimerKey, Int64?)] = []
        var cancelledNotifications: [String] = []
        var detached: [(lease: String, pin: String)] = []
        var ended: [LeaseRecord] = []
        /// Counted for `pinlease_lease_transitions_total` once durable.
        var tally = LeaseTransitionTally()

        var isEmpty: Bool { leases.isEmpty && events.isEmpty && outbox.isEmpty }
    }

    /// Acts on a durable transition, on whichever thread led its commit. It must never take
    /// the book's lock: ``restore(_:)`` waits for commits while holding it, and may lead them.
    func act(on transition: Transition) {
        metrics.recordTransitions(transition.tally)
        events.publish(transition.events)
        timer.apply(transition.timers)
        for id in transition.cancelledNotifications { notifier.cancel(leaseID: id) }
        notifier.send(transition.outbox, secrets: transition.secrets)
        for (lease, pin) in transition.detached where pins.detachLease(lease, from: pin) {
            DispatchQueue.global().async { [tearDownPin] in tearDownPin(pin) }
        }
        for lease in transition.ended { leaseEnded(lease) }
    }
}
