import PinJSON
import PinWire
import Synchronization
import Testing

@testable import PinCore

@Suite struct EventResumeTests {
    private func event(_ sequence: UInt64) -> Event {
        Event(sequence: sequence, type: .leaseGranted, timestamp: "2026-01-01T00:00:00Z", data: [:], holder: nil)
    }

    /// A log as it is right after a restart: nothing in memory, events 1...last in storage,
    /// the oldest `firstKept - 1` of them forgotten.
    /// Events are stored before they are published, so storage holds every published event.
    private final class Storage: Sendable {
        let events: Mutex<[Event]>
        init(_ events: [Event]) { self.events = Mutex(events) }
    }

    private func restartedLog(last: UInt64, firstKept: UInt64 = 1) -> (log: EventLog, storage: Storage) {
        let storage = Storage((firstKept...last).map(event))
        let log = EventLog(
            capacity: 4, lastSequence: last,
            older: { after, limit in storage.events.withLock { Array($0.filter { $0.sequence > after }.prefix(limit)) }
            })
        return (log, storage)
    }

    @Test func afterARestartEveryStoredEventIsReplayed() {
        let log = restartedLog(last: 10).log
        #expect(log.events(after: 3, limit: 100).map(\.sequence) == Array(4...10))
        #expect(log.resumption(after: 3) == .available)
    }

    @Test func replayJoinsStorageAndNewEventsWithoutAGap() {
        let (log, storage) = restartedLog(last: 10)
        let new = (11...16).map(event)  // more than the memory holds
        storage.events.withLock { $0 += new }
        log.publish(new)
        #expect(log.events(after: 2, limit: 100).map(\.sequence) == Array(3...16))
        #expect(log.events(after: 2, limit: 5).map(\.sequence) == Array(3...7))
    }

    @Test func aStartBeforeTheOldestKeptEventIsExpired() {
        let log = restartedLog(last: 10, firstKept: 6).log
        #expect(log.resumption(after: 5) == .available)
        #expect(log.resumption(after: 4) == .expired(oldest: 6))
        #expect(log.resumption(after: 0) == .expired(oldest: 6))
    }

    @Test func aStartAfterTheNewestEventIsAhead() {
        let log = restartedLog(last: 10).log
        #expect(log.resumption(after: 10) == .available)
        #expect(log.resumption(after: 11) == .ahead(last: 10))
        #expect(log.events(after: 10, limit: 10).isEmpty)
    }
}
