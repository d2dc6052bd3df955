import Synchronization

/// The events published so far, in sequence order, for readers that follow them
/// (`GET /v1/events`). The newest `capacity` events are kept in memory; older ones come from
/// `older` (the state store), so `?since=N` can resume from any event still recorded.
///
/// Readers never block the publisher: ``publish(_:)`` appends and then calls every observer's
/// wake-up, which must only signal (for example resume a suspended connection), not read.
public final class EventLog: Sendable {
    /// Reads events after a sequence number from durable storage, at most `limit`, in order.
    public typealias OlderEvents = @Sendable (_ after: UInt64, _ limit: Int) -> [Event]

    private struct State: ~Copyable {
        var recent: [Event] = []
        /// The index in `recent` of the oldest event (a ring once full).
        var start = 0
        var lastSequence: UInt64
        var observers: [UInt64: @Sendable () -> Void] = [:]
        var nextObserver: UInt64 = 0
    }

    private let capacity: Int
    private let older: OlderEvents?
    private let state: Mutex<State>

    /// - Parameters:
    ///   - capacity: how many of the newest events are kept in memory.
    ///   - lastSequence: the sequence number of the newest event already recorded (after a restart).
    ///   - older: where events no longer in memory are read from; `nil`: they are gone.
    public init(capacity: Int = 10_000, lastSequence: UInt64 = 0, older: OlderEvents? = nil) {
        self.capacity = max(1, capacity)
        self.older = older
        state = Mutex(State(lastSequence: lastSequence))
    }

    /// The sequence number of the newest event (0 before the first).
    public var lastSequence: UInt64 { state.withLock { $0.lastSequence } }

    /// Appends events (each with a higher sequence number than the last) and wakes every observer.
    public func publish(_ events: [Event]) {
        guard !events.isEmpty else { return }
        let observers = state.withLock { state in
            for event in events {
                precondition(event.sequence > state.lastSequence, "events must be published in sequence order")
                state.lastSequence = event.sequence
                if state.recent.count < capacity {
                    state.recent.append(event)
                } else {
                    state.recent[state.start] = event
                    state.start = (state.start + 1) % capacity
                }
            }
            return Array(state.observers.values)
        }
        for wake in observers { wake() }
    }

    /// The events with a sequence number greater than `after`, oldest first, at most `limit`.
    public func events(after: UInt64, limit: Int) -> [Event] {
        guard limit > 0 else { return [] }
        if let recent = recentEvents(after: after, limit: limit) { return recent }
        let fromStore = older?(after, limit) ?? []
        if fromStore.count >= limit { return fromStore }
        return fromStore + (recentEvents(after: fromStore.last?.sequence ?? after, limit: limit - fromStore.count, gapAllowed: true) ?? [])
    }

    /// The events after `after` from memory (binary search in the ring), or `nil` when some of
    /// them are older than the oldest event in memory (unless `gapAllowed`).
    private func recentEvents(after: UInt64, limit: Int, gapAllowed: Bool = false) -> [Event]? {
        state.withLock { state in
            let count = state.recent.count
            guard count > 0 else { return [] }
            let start = state.start
            func event(_ index: Int) -> Event { state.recent[(start + index) % count] }
            guard gapAllowed || after + 1 >= event(0).sequence else { return nil }
            var low = 0
            var high = count
            while low < high {
                let middle = (low + high) / 2
                if event(middle).sequence > after { high = middle } else { low = middle + 1 }
            }
            return (low..<min(count, low + limit)).map(event)
        }
    }

    /// Calls `wake` (on the publishing thread) after every ``publish(_:)`` until the returned
    /// observation is cancelled.
    public func observe(_ wake: @escaping @Sendable () -> Void) -> EventObservation {
        let id = state.withLock { state in
            state.nextObserver += 1
            state.observers[state.nextObserver] = wake
            return state.nextObserver
        }
        return EventObservation { [weak self] in _ = self?.state.withLock { $0.observers.removeValue(forKey: id) } }
    }
}

/// A registration made by ``EventLog/observe(_:)``; ``cancel()`` ends it (idempotent).
public final class EventObservation: Sendable {
    private let onCancel: Mutex<(@Sendable () -> Void)?>

    init(_ onCancel: @escaping @Sendable () -> Void) {
        self.onCancel = Mutex(onCancel)
    }

    public func cancel() {
        let action = onCancel.withLock { action in
            defer { action = nil }
            return action
        }
        action?()
    }

    deinit { cancel() }
}
