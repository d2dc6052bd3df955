import CMicroHTTPD
import Dispatch
import PinCore
import Synchronization

/// The body of one `GET /v1/events` response while libmicrohttpd sends it.
///
/// The stream keeps its own cursor into the ``EventLog`` and pulls from it only when MHD asks
/// for data (``read(into:)``, bounded by MHD's buffer), so nothing piles up for a slow client
/// and the publisher never waits for one. When nothing is ready the reader suspends the
/// connection; a wake-up (a publish, the heartbeat timer, ``finish()``) resumes it. "Check
/// for data, then suspend" and "note the wake-up, then resume" both run under the stream's
/// own lock, so no wake-up is lost and a connection is resumed only while it is suspended.
final class EventStream: Sendable {
    /// What ``read(into:)`` did.
    enum Read {
        /// This many bytes were written to the buffer.
        case bytes(Int)
        /// Nothing was ready: the connection is suspended until a wake-up resumes it.
        case suspended
        /// ``finish()`` was called and everything before it was written: the response ends.
        case end
    }

    /// How many events one pull from the log reads at most.
    static let batchSize = 256

    private let subscription: EventSubscription
    private let connection: ConnectionHandle
    private let heartbeatInterval: Duration
    private let onClose: @Sendable (EventStream) -> Void
    /// Used by the reader only (one MHD thread at a time); never contended by a publisher.
    private let output: Mutex<Output>
    /// Shared between the reader and the wake-ups; held only briefly.
    private let signals = Mutex(Signals())
    private let resources = Mutex(Resources())

    private struct Output: ~Copyable {
        /// The sequence number of the last event taken from the log.
        var cursor: UInt64
        /// Bytes produced but not yet copied to MHD (at most about one buffer and one frame).
        var pending = ServerSentEvents.retry
        var sent = 0

        /// Copies as much of ``pending`` as fits; returns the byte count.
        mutating func copyPending(into buffer: UnsafeMutableRawBufferPointer) -> Int {
            let count = min(buffer.count, pending.count - sent)
            guard count > 0 else { return 0 }
            pending.withUnsafeBytes { bytes in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[sent..<sent + count]))
            }
            sent += count
            if sent == pending.count {
                pending.removeAll(keepingCapacity: true)
                sent = 0
            }
            return count
        }

        /// What ``pull(_:budget:)`` found.
        enum Pulled { case events, nothing, expired }

        /// Frames the subscriber's next events into ``pending`` until it holds about `budget` bytes,
        /// moving the cursor past every event read, hidden ones too. `expired` when events after
        /// the cursor were forgotten (a reader that fell behind retention): the stream must end
        /// rather than skip them, and the client's reconnect with `Last-Event-ID` gets 410.
        mutating func pull(_ subscription: EventSubscription, budget: Int) -> Pulled {
            let log = subscription.log
            let newest = log.lastSequence
            let batch = log.events(after: cursor, limit: EventStream.batchSize)
            if batch.first.map({ $0.sequence > cursor + 1 }) ?? (newest > cursor),
                case .expired = log.resumption(after: cursor)
            {
                return .expired
            }
            guard !batch.isEmpty else {
                // Numbers the log never published (a write that failed as the daemon stopped).
                cursor = max(cursor, newest)
                return .nothing
            }
            for event in batch {
                cursor = event.sequence
                if subscription.includes(event) { pending += ServerSentEvents.frame(event) }
                if pending.count >= budget { break }
            }
            return .events
        }
    }

    private struct Signals: ~Copyable {
        var suspended = false
        var finished = false
        var heartbeatDue = false
        /// An event was written since the last heartbeat tick.
        var eventSinceTick = false
    }

    private struct Resources: ~Copyable {
        var observation: EventObservation?
        var timer: (any DispatchSourceTimer)?
    }

    /// A stream of `subscription` on `connection`; nothing happens until ``start()``.
    /// `onClose` is called by ``close()``.
    init(
        _ subscription: EventSubscription, connection: ConnectionHandle, heartbeatInterval: Duration,
        onClose: @escaping @Sendable (EventStream) -> Void
    ) {
        self.subscription = subscription
        self.connection = connection
        self.heartbeatInterval = heartbeatInterval
        self.onClose = onClose
        output = Mutex(Output(cursor: subscription.after))
    }

    /// Starts observing the log and the heartbeat timer. Call once, before the response is queued.
    func start() {
        let observation = subscription.log.observe { [weak self] in self?.wake() }
        let nanoseconds = Int(heartbeatInterval / .nanoseconds(1))
        let interval = DispatchTimeInterval.nanoseconds(nanoseconds)
        resources.withLock { resources in
            let timer = DispatchSource.makeTimerSource(queue: .global())
            timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .nanoseconds(nanoseconds / 20))
            timer.setEventHandler { [weak self] in self?.tick() }
            timer.resume()
            resources = Resources(observation: observation, timer: timer)
        }
    }

    /// Stops observing the log and the timer and calls `onClose`. Called by the response's free
    /// callback once MHD is done with the connection; idempotent.
    func close() {
        let (observation, timer) = resources.withLock { resources in
            defer { resources = Resources() }
            return (resources.observation, resources.timer)
        }
        guard let observation else { return }
        observation.cancel()
        timer?.cancel()
        onClose(self)
    }

    /// Ends the stream: the reader returns ``Read/end`` once what it already produced is written.
    /// Safe from any thread.
    func finish() {
        signals.withLock { signals in
            signals.finished = true
            resumeIfSuspended(&signals)
        }
    }

    /// Fills `buffer` with what is ready: the rest of a frame begun earlier, then frames of the
    /// next visible events, or a heartbeat when one is due. Called on MHD's thread by the
    /// content reader.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Read {
        output.withLock { output in
            var written = 0
            while true {
                written += output.copyPending(into: UnsafeMutableRawBufferPointer(rebasing: buffer[written...]))
                if written == buffer.count { return .bytes(written) }
                if signals.withLock({ $0.finished }) { return written > 0 ? .bytes(written) : .end }
                let pulled = output.pull(subscription, budget: buffer.count - written)
                if !output.pending.isEmpty { signals.withLock { $0.eventSinceTick = true } }
                switch pulled {
                case .events: continue
                case .expired:
                    signals.withLock { $0.finished = true }
                    continue
                case .nothing: break
                }
                if takeHeartbeat() {
                    output.pending = ServerSentEvents.heartbeat
                    continue
                }
                if written > 0 { return .bytes(written) }
                if suspendIfIdle(cursor: output.cursor) { return .suspended }
            }
        }
    }

    /// Suspends the connection unless a wake-up came after the reader last looked: a newer
    /// event, a due heartbeat, or the end.
    private func suspendIfIdle(cursor: UInt64) -> Bool {
        signals.withLock { signals in
            guard !signals.finished, !signals.heartbeatDue, subscription.log.lastSequence <= cursor else {
                return false
            }
            signals.suspended = true
            MHD_suspend_connection(connection.raw)
            return true
        }
    }

    private func takeHeartbeat() -> Bool {
        signals.withLock { signals in
            defer { signals.heartbeatDue = false }
            return signals.heartbeatDue
        }
    }

    /// After a publish, on the publisher's thread: only signals.
    private func wake() {
        signals.withLock { resumeIfSuspended(&$0) }
    }

    /// Every heartbeat interval: a heartbeat is due when no event was written since the last tick.
    private func tick() {
        signals.withLock { signals in
            guard !signals.eventSinceTick else {
                signals.eventSinceTick = false
                return
            }
            signals.heartbeatDue = true
            resumeIfSuspended(&signals)
        }
    }

    private func resumeIfSuspended(_ signals: inout Signals) {
        guard signals.suspended else { return }
        signals.suspended = false
        MHD_resume_connection(connection.raw)
    }
}
