import Logging
import Testing

@testable import PinCore
@testable import PinWebhooks

/// `pendingByOrigin` (the queue depth gauge): messages not yet finished, by origin, until each
/// finishes.
@Suite struct WebhookQueueDepthTests {
    @Test func pendingMessagesAreCountedByOriginUntilTheyFinish() async throws {
        let receiver = try LoopbackReceiver { _, _ in .init(status: 204) }
        defer { receiver.stop() }
        let origin = "http://127.0.0.1:\(receiver.port)"
        let sender = WebhookSender(
            configuration: try configuration([receiver.baseURL + "/", "http://127.0.0.2:9/"]),
            logger: Logger(label: "webhook-test"), onAttempt: { _ in }, onFinished: { _, _ in })
        defer { sender.shutdown() }
        // Queued before the sender runs: all pending.
        sender.send(message(receiver.baseURL + "/a", lease: "lease_1"))
        sender.send(message(receiver.baseURL.uppercased() + "/b", lease: "lease_2"))  // the same origin
        sender.send(message("http://127.0.0.2:9/c", lease: "lease_3"))
        #expect(sender.pendingByOrigin == [origin: 2, "http://127.0.0.2:9": 1])
        try sender.start()
        #expect(try await eventually { sender.pendingByOrigin[origin] == nil })
        #expect(sender.pendingByOrigin.values.reduce(0, +) == sender.pendingCount)
    }
}
