import PinJSON

/// The events a transition publishes: the lease fields every lease event carries, and the
/// sequence numbers, given in transition order.
extension LeaseBook.Book {
    /// Publishes an event about `lease` (in this transition) and, for the webhook kinds,
    /// queues it for the lease's webhook.
    mutating func event(_ type: EventType, _ lease: LeaseRecord, at now: Int64, _ transition: inout LeaseBook.Transition) {
        var data: JSONObject = [
            "lease_id": .string(lease.id), "pin_id": .string(lease.pinID), "path": .string(lease.path.canonical),
            "holder": .string(lease.holder), "state": .string(lease.state.rawValue),
        ]
        if let reason = lease.reason { data["reason"] = .string(reason) }
        if let deadline = lease.deadline { data["deadline"] = .string(WallClock.format(milliseconds: deadline)) }
        if lease.state == .active { data["expires_at"] = .string(WallClock.format(milliseconds: lease.expiresAt)) }
        let event = fileEvent(type, data: data, at: now, &transition, holder: lease.holder)
        notify(lease, of: event, at: now, &transition)
    }

    /// Publishes an event (in this transition) that is not only about one lease.
    mutating func fileEvent(
        _ type: EventType, data: JSONObject, at now: Int64, _ transition: inout LeaseBook.Transition, holder: String? = nil
    ) -> Event {
        let event = Event(sequence: nextSequence, type: type, timestamp: WallClock.format(milliseconds: now), data: data, holder: holder)
        nextSequence += 1
        transition.events.append(event)
        return event
    }
}
