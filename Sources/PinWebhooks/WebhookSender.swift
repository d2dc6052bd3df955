import CCurl
import Dispatch
import Foundation
import LinuxFS
import Logging
import PinCore
import PinWire
import ServiceLifecycle
import Synchronization

/// Delivers Standard Webhooks 1.0 messages with libcurl's multi interface on one dedicated
/// thread: up to `maxConcurrentTransfers` POSTs run at once, at most `maxTransfersPerOrigin` of
/// them to one origin, and origins with attempts waiting take turns (``OriginQueues``), so a
/// receiver that hangs (each attempt bounded by `requestTimeout`) never delays another
/// receiver's messages. Connections are reused.
///
/// Each attempt is signed with its own `webhook-timestamp`; 2xx delivers; 410 stops; a 3xx is a
/// failure (redirects are never followed); anything else is retried (no earlier than a
/// `Retry-After` asks): a call to act with the backoff until `retryUntil`, plus
/// `attemptsAfterDeadline` more; a final notice on the ``RetrySchedule``.
/// `onAttempt` and `onFinished` run on the sender's thread: they must return quickly, and may
/// call ``send(_:)``, ``cancel(leaseID:eventTypes:)`` and ``pendingCount`` (``shutdown()``
/// from there does not wait for the thread).
public final class WebhookSender: Service {
    private let shared: Shared
    /// The sender's thread's work (made in the initializer, run by ``run()`` or ``start()``).
    private let work: @Sendable () -> Void

    /// Calls `curl_global_init` once per process, before the first handle.
    private static let curlInitialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// A sender that delivers nothing until it runs (``run()`` or ``start()``); messages sent
    /// before are queued.
    /// - Parameters:
    ///   - onAttempt: called for every attempt, including refused connections and timeouts (the delivery log).
    ///   - onFinished: called once per message, with `.delivered` or `.failed(reason)`.
    ///   - onRedeliver: called when a ``redeliver(_:)`` is taken up, with the attempts made so far
    ///     (in order with the other callbacks: a message finished before it is pending again after).
    public init(
        configuration: WebhookConfiguration, logger: Logger,
        onAttempt: @escaping @Sendable (DeliveryAttempt) -> Void,
        onFinished: @escaping @Sendable (WebhookMessage, DeliveryAttempt.Outcome) -> Void,
        onRedeliver: @escaping @Sendable (WebhookMessage, Int) -> Void = { _, _ in }
    ) {
        precondition(Self.curlInitialized, "curl_global_init failed")
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed (out of memory)") }
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max(1, configuration.maxConcurrentTransfers))
        let shared = Shared(multi: multi)
        self.shared = shared
        work = { [shared] in
            Worker(
                shared: shared, configuration: configuration, logger: logger, onAttempt: onAttempt,
                onFinished: onFinished,
                onRedeliver: onRedeliver
            ).run()
        }
    }

    deinit { shutdown() }

    /// Delivers on the sender's thread until graceful shutdown or cancellation, then stops as
    /// ``shutdown()`` does; returns once the thread ended.
    public func run() async throws {
        try await shared.thread.run(work, requestStop: { [shared] in shared.requestStop() })
    }

    /// Starts the sender's thread without a service group (tests); ``shutdown()`` ends it.
    public func start() throws(CoreError) {
        try shared.thread.start(work)
    }

    /// Queues a message for delivery now; returns at once, callable from any thread. A message with the id of one
    /// already pending replaces nothing (ignored). Ignored after ``shutdown()``.
    public func send(_ message: WebhookMessage) {
        let origin = OriginQueues.origin(of: message.url)
        shared.submit { state in
            guard state.pending[message.id] == nil else { return false }
            state.pending[message.id] = origin
            state.commands.append(.send(message))
            return true
        }
    }

    /// Attempts `message` now: a message still pending has its next attempt moved to now (one
    /// in flight is attempted again as soon as that attempt ends, whatever its answer); a
    /// finished one is sent again (numbering and schedule continue after `attemptsMade`, or
    /// after the attempts the sender made if it finished recently). Ignored after ``shutdown()``.
    public func redeliver(_ message: WebhookMessage) {
        let origin = OriginQueues.origin(of: message.url)
        shared.submit { state in
            state.pending[message.id] = origin
            state.commands.append(.redeliver(message))
            return true
        }
    }

    /// Stops retrying every pending message of a lease (e.g. it was released): each gets
    /// onFinished(.cancelled). A transfer in flight may complete; no further attempt starts.
    /// `eventTypes`: only messages of these types.
    /// (A transfer in flight that is answered with 2xx finishes `.delivered`, since it was.)
    public func cancel(leaseID: String, eventTypes: Set<EventType>? = nil) {
        shared.submit { state in
            state.commands.append(.cancel(leaseID: leaseID, eventTypes: eventTypes))
            return true
        }
    }

    /// Number of messages not yet finished (queued, in flight or waiting to retry).
    public var pendingCount: Int { shared.state.withLock { $0.pending.count } }

    /// Messages not yet finished (queued, in flight or waiting to retry), by origin (`scheme://host:port`).
    public var pendingByOrigin: [String: Int] {
        shared.state.withLock { state in
            var counts: [String: Int] = [:]
            for origin in state.pending.values { counts[origin, default: 0] += 1 }
            return counts
        }
    }

    /// Stops the thread; pending messages are dropped without onFinished (the daemon keeps them in its
    /// outbox). Idempotent; also from deinit. Returns when the thread has stopped (no callback runs
    /// after that), except when called from a callback.
    public func shutdown() {
        shared.requestStop()
        shared.thread.stop()
    }
}

/// What callers and the sender's thread share.
private final class Shared: Sendable {
    enum Command: Sendable {
        case send(WebhookMessage)
        case redeliver(WebhookMessage)
        case cancel(leaseID: String, eventTypes: Set<EventType>?)
    }

    struct State: ~Copyable {
        var commands: [Command] = []
        /// The messages not yet finished: their ids, and the origin of each.
        var pending: [String: String] = [:]
        var stopping = false
    }

    /// The multi handle: driven by the sender's thread, woken from any thread with
    /// `curl_multi_wakeup` (thread-safe), cleaned up when the last owner lets go of it.
    struct Multi: @unchecked Sendable {
        let handle: UnsafeMutableRawPointer
    }

    let multi: Multi
    let state = Mutex(State())
    let thread = ServiceThread(name: "webhooks")

    init(multi: UnsafeMutableRawPointer) {
        self.multi = Multi(handle: multi)
    }

    /// The thread is done with the handle once nothing refers to this any more.
    deinit {
        curl_multi_cleanup(multi.handle)
    }

    /// Marks the sender stopping: the queues are dropped and the thread (if it runs) wakes to end.
    func requestStop() {
        state.withLock { state in
            guard !state.stopping else { return }
            state.stopping = true
            state.pending.removeAll()
            state.commands.removeAll()
            curl_multi_wakeup(multi.handle)
        }
    }

    /// Runs `change` under the lock unless the sender is stopping, and wakes the thread when it returns true.
    func submit(_ change: (inout State) -> Bool) {
        state.withLock { state in
            guard !state.stopping, change(&state) else { return }
            curl_multi_wakeup(multi.handle)
        }
    }
}

/// The sender's thread: messages, the retry heap and the transfers in flight. Not thread-safe; used only there.
private final class Worker {
    private final class Delivery {
        let message: WebhookMessage
        let origin: String
        var attempts: Int
        /// Attempts scheduled for after `retryUntil`.
        var attemptsAfterDeadline = 0
        /// Due, waiting in its origin's queue for room.
        var queued = false
        /// An operator asked for another attempt while one was in flight.
        var redeliverRequested = false
        var inFlight = false
        var cancelled = false
        /// The heap entry that is current for this delivery (older ones are skipped).
        var token: UInt64 = 0

        init(message: WebhookMessage) {
            self.message = message
            origin = OriginQueues.origin(of: message.url)
            attempts = message.attemptsMade
        }
    }

    /// What an attempt's answer means before deadlines and cancellation are considered.
    private enum Verdict {
        case delivered
        case stop(String)
        case retry(notBefore: Double?)
    }

    private let shared: Shared
    private let multi: UnsafeMutableRawPointer
    private let configuration: WebhookConfiguration
    private let logger: Logger
    private let onAttempt: @Sendable (DeliveryAttempt) -> Void
    private let onFinished: @Sendable (WebhookMessage, DeliveryAttempt.Outcome) -> Void
    private let onRedeliver: @Sendable (WebhookMessage, Int) -> Void
    /// Attempts made by messages that finished lately (at most ``recentlyFinishedKept``), so a
    /// redelivery numbers on from them even before the outbox recorded them.
    private var recentlyFinished: [String: Int] = [:]
    private var recentlyFinishedOrder: [String] = []
    private static let recentlyFinishedKept = 4096
    private var deliveries: [String: Delivery] = [:]
    private var heap = AttemptHeap()
    private var queues: OriginQueues
    private var inFlight: [UnsafeMutableRawPointer: (transfer: WebhookTransfer, delivery: Delivery)] = [:]
    private var nextToken: UInt64 = 0
    private var generator = SystemRandomNumberGenerator()

    init(
        shared: Shared, configuration: WebhookConfiguration, logger: Logger,
        onAttempt: @escaping @Sendable (DeliveryAttempt) -> Void,
        onFinished: @escaping @Sendable (WebhookMessage, DeliveryAttempt.Outcome) -> Void,
        onRedeliver: @escaping @Sendable (WebhookMessage, Int) -> Void
    ) {
        self.onRedeliver = onRedeliver
        self.shared = shared
        self.multi = shared.multi.handle
        self.configuration = configuration
        self.logger = logger
        self.onAttempt = onAttempt
        self.onFinished = onFinished
        queues = OriginQueues(
            perOrigin: min(configuration.maxTransfersPerOrigin, max(1, configuration.maxConcurrentTransfers)))
    }

    private var capacity: Int { max(1, configuration.maxConcurrentTransfers) }

    func run() {
        while true {
            let (commands, stopping) = shared.state.withLock { state in
                defer { state.commands.removeAll() }
                return (state.commands, state.stopping)
            }
            if stopping { break }
            for command in commands { apply(command) }
            startDueAttempts()
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            collectFinishedTransfers()
            // Transfers that just ended made room: start what waited for it now, not after the
            // poll (a new transfer's own timer ends the poll at once).
            startDueAttempts()
            curl_multi_poll(multi, nil, 0, pollTimeout(), nil)
        }
        for easy in inFlight.keys { curl_multi_remove_handle(multi, easy) }
        inFlight.removeAll()
    }

    private func apply(_ command: Shared.Command) {
        switch command {
        case .send(let message):
            let delivery = Delivery(message: message)
            deliveries[message.id] = delivery
            let now = WebhookClock.wall()
            var first = max(now, message.firstAttemptAt ?? now)
            if message.followsRetrySchedule && message.firstAttemptAt == nil {
                first = now + (configuration.retrySchedule.delay(afterFailedAttempts: message.attemptsMade) ?? 0)
            }
            if !schedule(delivery, at: first) {
                finish(delivery, .failed("deadline passed after \(delivery.attempts) attempts"))
            }
        case .redeliver(let message):
            let delivery: Delivery
            if let pending = deliveries[message.id] {
                delivery = pending
                if delivery.inFlight {
                    delivery.redeliverRequested = true
                } else if !delivery.queued {
                    _ = schedule(delivery, at: WebhookClock.wall(), overriding: true)
                }
            } else {
                delivery = Delivery(message: message)
                delivery.attempts = max(delivery.attempts, recentlyFinished[message.id] ?? 0)
                deliveries[message.id] = delivery
                _ = schedule(delivery, at: WebhookClock.wall(), overriding: true)
            }
            onRedeliver(message, delivery.attempts)
        case .cancel(let leaseID, let eventTypes):
            let matching = deliveries.values.filter { delivery in
                delivery.message.leaseID == leaseID && eventTypes?.contains(delivery.message.eventType) ?? true
            }
            for delivery in matching {
                if delivery.inFlight { delivery.cancelled = true } else { finish(delivery, .cancelled) }
            }
        }
    }

    /// Queues the next attempt at `time`, unless it would be after `retryUntil` and the attempts
    /// allowed after it are used up (a call to act). `overriding`: an operator's retry, always queued.
    private func schedule(_ delivery: Delivery, at time: Double, overriding: Bool = false) -> Bool {
        if !overriding && !delivery.message.followsRetrySchedule && time > delivery.message.retryUntil {
            guard delivery.attemptsAfterDeadline < delivery.message.attemptsAfterDeadline else { return false }
            delivery.attemptsAfterDeadline += 1
        }
        nextToken += 1
        delivery.token = nextToken
        heap.push(AttemptHeap.Entry(time: time, token: nextToken, messageID: delivery.message.id))
        return true
    }

    /// Moves the attempts that came due to their origins' queues, then starts attempts, origin by
    /// origin in turn, while transfers are free.
    private func startDueAttempts() {
        let now = WebhookClock.wall()
        while let first = heap.first, first.time <= now {
            heap.removeFirst()
            guard let delivery = deliveries[first.messageID], delivery.token == first.token, !delivery.inFlight,
                !delivery.queued
            else { continue }
            delivery.queued = true
            queues.enqueue(delivery.message.id, origin: delivery.origin)
        }
        while inFlight.count < capacity, let (id, origin) = queues.next() {
            guard let delivery = deliveries[id], delivery.queued, !delivery.inFlight else {
                queues.finished(origin: origin)  // finished or cancelled while it waited
                continue
            }
            delivery.queued = false
            start(delivery)
            if !delivery.inFlight { queues.finished(origin: origin) }  // concluded without a transfer
        }
    }

    private func start(_ delivery: Delivery) {
        let message = delivery.message
        delivery.attempts += 1
        let startedAt = WebhookClock.wall()
        let timestamp = Int64(startedAt.rounded(.down))
        let permitsSpecial: Bool
        let signature: String
        do throws(CoreError) {  // no later attempt can do better
            permitsSpecial = try configuration.allowList.permitsSpecialAddresses(message.url)
            signature = try WebhookSignature.sign(
                secret: message.secret, id: message.id, timestamp: timestamp, body: message.body)
        } catch {
            conclude(
                delivery, startedAt: startedAt, duration: 0, status: nil, error: error.detail,
                verdict: .stop(error.detail))
            return
        }
        do throws(CoreError) {
            let transfer = try WebhookTransfer(
                message: message, timestamp: timestamp, signature: signature, permitsSpecialAddresses: permitsSpecial,
                startedAt: startedAt, configuration: configuration)
            let added = curl_multi_add_handle(multi, transfer.easy)
            guard added == CURLM_OK else {
                throw CoreError(
                    .systemError, "curl_multi_add_handle failed: " + String(cString: curl_multi_strerror(added)))
            }
            inFlight[transfer.easy] = (transfer, delivery)
            delivery.inFlight = true
        } catch {
            conclude(
                delivery, startedAt: startedAt, duration: 0, status: nil, error: error.detail,
                verdict: .retry(notBefore: nil))
        }
    }

    private func collectFinishedTransfers() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result
            curl_multi_remove_handle(multi, easy)
            guard let (transfer, delivery) = inFlight.removeValue(forKey: easy) else { continue }
            delivery.inFlight = false
            queues.finished(origin: delivery.origin)
            let status = transfer.responseCode
            var error: String?
            let verdict: Verdict
            if result == CURLE_OK, let status, (200..<300).contains(status) {
                verdict = .delivered
            } else if result == CURLE_OK, status == 410 {
                verdict = .stop("gone (410)")
            } else {
                if result != CURLE_OK {
                    error = transfer.errorText(result)
                } else if let status, (300..<400).contains(status) {
                    error = "\(status) redirect (not followed)" + (transfer.location.map { " to \($0)" } ?? "")
                }
                let now = WebhookClock.wall()
                let delay =
                    status == nil
                    ? nil : transfer.retryAfter.flatMap { WebhookTransfer.retryAfterSeconds($0, now: now) }
                verdict = .retry(notBefore: delay.map { now + $0 })
            }
            conclude(
                delivery, startedAt: transfer.startedAt, duration: transfer.elapsed, status: status, error: error,
                verdict: verdict)
        }
    }

    /// Decides the outcome of an attempt, reports it, and finishes the message unless it retries.
    private func conclude(
        _ delivery: Delivery, startedAt: Double, duration: Double, status: Int?, error: String?, verdict: Verdict
    ) {
        let message = delivery.message
        let outcome: DeliveryAttempt.Outcome
        switch verdict {
        case .delivered:
            outcome = .delivered
        case .stop(let reason):
            outcome = .failed(reason)
        case .retry(let notBefore):
            if delivery.cancelled {
                outcome = .cancelled
            } else if message.followsRetrySchedule {
                let now = WebhookClock.wall()
                if let delay = configuration.retrySchedule.delay(afterFailedAttempts: delivery.attempts) {
                    let next = max(now + delay, notBefore ?? 0)
                    _ = schedule(delivery, at: next)
                    outcome = .retrying(at: next)
                } else {
                    outcome = .failed("retry schedule used up after \(delivery.attempts) attempts")
                }
            } else {
                let now = WebhookClock.wall()
                var next = now + configuration.backoff.delay(afterFailedAttempts: delivery.attempts, using: &generator)
                if now < message.retryUntil { next = min(next, message.retryUntil) }  // a last try at the deadline
                if let notBefore { next = max(next, notBefore) }
                outcome =
                    schedule(delivery, at: next)
                    ? .retrying(at: next) : .failed("deadline passed after \(delivery.attempts) attempts")
            }
        }
        let attempt = DeliveryAttempt(
            messageID: message.id, leaseID: message.leaseID, eventType: message.eventType, url: message.url,
            attempt: delivery.attempts, startedAt: startedAt, durationSeconds: duration, statusCode: status,
            error: error,
            outcome: outcome)
        logger.debug("webhook attempt", metadata: ["delivery": "\(attempt.json)"])
        onAttempt(attempt)
        if case .retrying = outcome { return }
        if delivery.redeliverRequested && outcome != .cancelled {
            delivery.redeliverRequested = false
            _ = schedule(delivery, at: WebhookClock.wall(), overriding: true)
            return
        }
        finish(delivery, outcome)
    }

    private func finish(_ delivery: Delivery, _ outcome: DeliveryAttempt.Outcome) {
        let message = delivery.message
        deliveries.removeValue(forKey: message.id)
        if recentlyFinished.updateValue(delivery.attempts, forKey: message.id) == nil {
            recentlyFinishedOrder.append(message.id)
            if recentlyFinishedOrder.count > Self.recentlyFinishedKept * 2 {
                for id in recentlyFinishedOrder.prefix(Self.recentlyFinishedKept) { recentlyFinished[id] = nil }
                recentlyFinishedOrder.removeFirst(Self.recentlyFinishedKept)
            }
        }
        shared.state.withLock { _ = $0.pending.removeValue(forKey: message.id) }
        if case .failed(let reason) = outcome, outcome != .cancelled {
            logger.warning(
                """
                webhook \(message.id) (\(message.eventType.rawValue), lease \(message.leaseID)) to \(message.url) \
                failed: \(reason)
                """
            )
        }
        onFinished(message, outcome)
    }

    /// Milliseconds until the next attempt is due (0 when one is due);
    /// curl shortens it for its own timers, and `curl_multi_wakeup` ends it when something is queued.
    private func pollTimeout() -> Int32 {
        guard let first = heap.first else { return 10_000 }
        let milliseconds = ((first.time - WebhookClock.wall()) * 1000).rounded(.up)
        return Int32(max(0, min(10_000, milliseconds)))
    }
}
