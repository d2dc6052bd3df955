import Synchronization

/// The events published so far, in sequence order, for readers that follow them
/// (`GET /v1/events`). The newest `capacity` events are kept in memory; older ones come from
/// `older` (the state store), so `?since=N` can resume from any event still recorded, also
/// after a restart (when memory holds none of them). What is recorded decides what can be
/// resumed (``resumption(after:)``): the same answer before and after a restart.
///
/// Readers never block the publisher: ``publish(_:)`` appends and then calls every observer's
/// wake-up, which must only signal (for example resume a suspended connection), not read.
public final class EventLog: Sendable {
    /// Reads events after a sequence number from durable storage, at most `limit`, in order.
    public typealias OlderEvents = @Sendable (_ after: UInt64, _ limit: Int) -> [Event]
    /// Whether a reader can resume after a sequence number without missing an event.
    public enum Resumption: Sendable, Equatable {
        /// Every event after it is still available (or there is none yet).
        case available
        /// Events right after it were forgotten (retention): `oldest` is the oldest still kept.
        case expired(oldest: UInt64?)
        /// It is newer than the newest event, `last`: it was not handed out by this log.
        case ahead(last: UInt64)
    }

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
    ///   - older: where events no longer in memory are read from (it forgets the oldest
    ///     first); `nil`: they are gone.
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

    /// The published events with a sequence number greater than `after`, oldest first, at most
    /// `limit`. Events no longer in memory are read from storage; what neither holds is
    /// skipped (see ``resumption(after:)`` to tell whether any was).
    public func events(after: UInt64, limit: Int) -> [Event] {
        guard limit > 0 else { return [] }
        if let recent = recentEvents(after: after, limit: limit) { return recent }
        // Storage may hold events committed but not yet published: never hand those out first.
        let newest = lastSequence
        let fromStore = (older?(after, limit) ?? []).filter { $0.sequence <= newest }
        if fromStore.count >= limit { return fromStore }
        return fromStore
            + (recentEvents(after: fromStore.last?.sequence ?? after, limit: limit - fromStore.count, gapAllowed: true)
                ?? [])
    }

    /// Whether every event after `after` can still be read. With storage, what it still
    /// holds decides (it forgets the oldest first, so events are missing exactly when its
    /// oldest is newer than `after + 1`); without, what memory holds.
    public func resumption(after: UInt64) -> Resumption {
        let (last, oldestInMemory) = state.withLock { state in
            (state.lastSequence, state.recent.isEmpty ? nil : state.recent[state.start].sequence)
        }
        if after > last { return .ahead(last: last) }
        if after == last { return .available }
        let oldest = older.map { $0(0, 1).first?.sequence } ?? oldestInMemory
        guard let oldest else { return .expired(oldest: nil) }
        return after + 1 >= oldest ? .available : .expired(oldest: oldest)
    }

    /// The events after `after` from memory (binary search in the ring), or `nil` when some of
    /// them are older than the oldest event in memory (unless `gapAllowed`).
    private func recentEvents(after: UInt64, limit: Int, gapAllowed: Bool = false) -> [Event]? {
        state.withLock { state in
            let count = state.recent.count
            // Nothing in memory (as after a restart): only storage can tell what came after `after`.
            guard count > 0 else { return gapAllowed || after >= state.lastSequence ? [] : nil }
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
