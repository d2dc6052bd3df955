/// The events a transition publishes: the lease fields every lease event carries, and the
/// sequence numbers, given in transition order.
extension LeaseBook.Book {
    /// Publishes an event about `lease` (in this transition) and, for the webhook kinds,
    /// queues it for the lease's webhook.
    mutating func event(
        _ type: EventType, _ lease: LeaseRecord, at now: Int64, _ transition: inout LeaseBook.Transition
    ) {
        let event = fileEvent(type, payload: .lease(LeaseEventData(lease)), at: now, &transition, holder: lease.holder)
        notify(lease, of: event, at: now, &transition)
    }

    /// Publishes an event (in this transition) that is not only about one lease.
    mutating func fileEvent(
        _ type: EventType, payload: EventPayload, at now: Int64, _ transition: inout LeaseBook.Transition,
        holder: String? = nil
    ) -> Event {
        let event = Event(
            sequence: nextSequence, type: type, timestamp: WallClock.format(milliseconds: now), payload: payload,
            holder: holder)
        nextSequence += 1
        transition.events.append(event)
        return event
    }
}
