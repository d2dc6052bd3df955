import PinCore

/// What an event-stream response sends: the events of `log` after sequence number `after`,
/// those a holder may not see left out. A route returns it in an ``HTTPResponse``; the engine
/// turns it into an ``EventStream`` on the connection.
struct EventSubscription: Sendable {
    let log: EventLog
    /// The sequence number the stream starts after: the first event sent is the next one.
    let after: UInt64
    /// Only events of this holder's leases are sent; `nil`: every event (admin tokens).
    let holder: String?

    /// Whether the subscriber may see `event`.
    func includes(_ event: Event) -> Bool {
        holder == nil || event.holder == holder
    }
}
