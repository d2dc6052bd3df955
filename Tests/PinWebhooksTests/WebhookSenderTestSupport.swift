import Foundation
import Logging
import Synchronization
import Testing

@testable import PinCore
@testable import PinWebhooks

// What the sender tests share: reports, receivers that hold requests, messages, signatures.

/// What a sender reported, collected from its thread.
final class Reports: Sendable {
    private let state = Mutex<(attempts: [DeliveryAttempt], finished: [(WebhookMessage, DeliveryAttempt.Outcome)])>(
        ([], []))

    var attempts: [DeliveryAttempt] { state.withLock { $0.attempts } }
    var finished: [(message: WebhookMessage, outcome: DeliveryAttempt.Outcome)] { state.withLock { $0.finished } }

    func attempts(of id: String) -> [DeliveryAttempt] { attempts.filter { $0.messageID == id } }
    func outcome(of id: String) -> DeliveryAttempt.Outcome? { finished.first { $0.message.id == id }?.outcome }

    /// A sender whose thread runs (until `shutdown()` or its release).
    func makeSender(_ configuration: WebhookConfiguration) throws -> WebhookSender {
        let sender = WebhookSender(
            configuration: configuration, logger: Logger(label: "webhook-test"),
            onAttempt: { attempt in self.state.withLock { $0.attempts.append(attempt) } },
            onFinished: { message, outcome in self.state.withLock { $0.finished.append((message, outcome)) } })
        try sender.start()
        return sender
    }
}

/// Waits (without blocking the test pool) until `condition` holds or `timeout` seconds pass.
func eventually(timeout: Double = 30, _ condition: () -> Bool) async throws -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// Holds each request until `until` are held at once (then lets every one through), and
/// records the most held at once.
final class HeldRequests: Sendable {
    private let condition = NSCondition()
    private nonisolated(unsafe) var inside = 0  // guarded by `condition`
    private nonisolated(unsafe) var most = 0
    private nonisolated(unsafe) var reached = false
    private let until: Int

    init(until: Int) {
        self.until = until
    }

    var mostAtOnce: Int {
        condition.lock()
        defer { condition.unlock() }
        return most
    }

    func arriveAndWait(timeout: Double) {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        inside += 1
        most = max(most, inside)
        if inside >= until { reached = true }
        condition.broadcast()
        while !reached, Date() < deadline { _ = condition.wait(until: min(deadline, Date().addingTimeInterval(1))) }
        inside -= 1
        condition.unlock()
    }
}

func configuration(_ prefixes: [String]) throws -> WebhookConfiguration {
    var configuration = WebhookConfiguration(allowList: try WebhookAllowList(prefixes: prefixes))
    configuration.requestTimeout = 10
    return configuration
}

func message(
    _ url: String, lease: String = "lease_1", type: EventType = .leaseRevoking, retryFor seconds: Double = 30,
    afterDeadline: Int = 0
) -> WebhookMessage {
    WebhookMessage(
        id: WebhookMessage.makeID(), leaseID: lease, eventType: type, url: url, secret: WebhookSignature.makeSecret(),
        body: Array(#"{"type":"\#(type.rawValue)","data":{"lease_id":"\#(lease)"}}"#.utf8),
        retryUntil: Date().timeIntervalSince1970 + seconds, attemptsAfterDeadline: afterDeadline)
}

/// Whether `request` carries `message`'s id, its body and a signature valid for its own timestamp.
func isSigned(_ request: LoopbackReceiver.Request, for message: WebhookMessage) -> Bool {
    guard let timestamp = request.headers["webhook-timestamp"].flatMap({ Int64($0) }),
        let signature = try? WebhookSignature.sign(
            secret: message.secret, id: message.id, timestamp: timestamp, body: message.body)
    else { return false }
    return request.headers["webhook-id"] == message.id && request.headers["webhook-signature"] == signature
        && request.body == message.body
}
