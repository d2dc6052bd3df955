import Foundation
import Logging
import Synchronization
import Testing

@testable import PinCore
@testable import PinWebhooks

/// Issue 8, items 4 and 9: fair delivery across receivers, the retry schedule of final notices,
/// resumed numbering, and an operator's redelivery.
@Suite struct WebhookFairnessTests {
    @Test func aHangingReceiverDoesNotDelayAnotherOrigin() async throws {
        let hanging = try LoopbackReceiver { _, _ in .init(status: 200, delay: 600) }
        defer { hanging.stop() }
        let healthy = try LoopbackReceiver { _, _ in .init(status: 204) }
        defer { healthy.stop() }
        let reports = Reports()
        var settings = try configuration([hanging.baseURL, healthy.baseURL])
        settings.requestTimeout = 300  // the hanging receiver holds every attempt it gets for the whole test
        let sender = try reports.makeSender(settings)
        defer { sender.shutdown() }
        let stuck = (0..<200).map { index in message(hanging.baseURL + "/h", lease: "stuck_\(index)", retryFor: 600) }
        for sent in stuck { sender.send(sent) }
        #expect(try await eventually { hanging.requests.count >= settings.maxTransfersPerOrigin })
        let notice = message(healthy.baseURL + "/h", lease: "healthy", retryFor: 600)
        sender.send(notice)
        #expect(try await eventually(timeout: 60) { reports.outcome(of: notice.id) == .delivered })
        // Every message to the hanging receiver is still queued or in flight, at most 8 of them in flight.
        #expect(reports.finished.count == 1)
        #expect(sender.pendingCount == stuck.count)
        #expect(hanging.requests.count <= settings.maxTransfersPerOrigin)
    }

    @Test func queuedAttemptsStartAsSoonAsRoomIsMade() async throws {
        let receiver = try LoopbackReceiver()
        defer { receiver.stop() }
        let reports = Reports()
        var settings = try configuration([receiver.baseURL])
        settings.maxTransfersPerOrigin = 1
        let sender = try reports.makeSender(settings)
        defer { sender.shutdown() }
        let messages = (0..<100).map { index in
            message(receiver.baseURL + "/h", lease: "queued_\(index)", retryFor: 600)
        }
        for sent in messages { sender.send(sent) }
        // 100 rounds of 1: rounds that waited for the next wake-up of the poll (seconds) instead of
        // starting at once would not fit.
        #expect(try await eventually(timeout: 60) { reports.finished.count == messages.count })
        #expect(reports.finished.allSatisfy { $0.outcome == .delivered })
    }

    @Test func finalNoticesFollowTheRetrySchedulePastAnyDeadline() async throws {
        let receiver = try LoopbackReceiver { index, _ in .init(status: index < 3 ? 503 : 200) }
        defer { receiver.stop() }
        let port = try LoopbackReceiver.unusedPort()
        let reports = Reports()
        var settings = try configuration([receiver.baseURL, "http://127.0.0.1:\(port)"])
        settings.retrySchedule = try #require(RetrySchedule(delays: [0, 0.1, 0.1, 0.1, 0.1]))
        let sender = try reports.makeSender(settings)
        defer { sender.shutdown() }
        let recovering = final(message(receiver.baseURL + "/h", type: .leaseRevoked, retryFor: -60))
        let down = final(message("http://127.0.0.1:\(port)/h", type: .leaseRevoked, retryFor: -60))
        sender.send(recovering)
        sender.send(down)
        #expect(try await eventually { reports.finished.count == 2 })
        #expect(reports.outcome(of: recovering.id) == .delivered)
        #expect(reports.attempts(of: recovering.id).map(\.statusCode) == [503, 503, 503, 200])
        #expect(reports.outcome(of: down.id) == .failed("retry schedule used up after 5 attempts"))
        #expect(reports.attempts(of: down.id).map(\.attempt) == [1, 2, 3, 4, 5])
    }

    @Test func aResumedMessageContinuesItsNumberingAndSchedule() async throws {
        let port = try LoopbackReceiver.unusedPort()
        let reports = Reports()
        var settings = try configuration(["http://127.0.0.1:\(port)"])
        settings.retrySchedule = try #require(RetrySchedule(delays: [0, 0.1, 0.1, 0.1]))
        let sender = try reports.makeSender(settings)
        defer { sender.shutdown() }
        let resumed = final(message("http://127.0.0.1:\(port)/h", type: .leaseRevoked), attemptsMade: 2)
        sender.send(resumed)
        #expect(try await eventually { reports.finished.count == 1 })
        #expect(reports.attempts(of: resumed.id).map(\.attempt) == [3, 4])
        #expect(reports.outcome(of: resumed.id) == .failed("retry schedule used up after 4 attempts"))
    }

    @Test func redeliverSendsAFinishedMessageAgainWithItsID() async throws {
        let receiver = try LoopbackReceiver()
        defer { receiver.stop() }
        let reports = Reports()
        let sender = try reports.makeSender(try configuration([receiver.baseURL]))
        defer { sender.shutdown() }
        let sent = final(message(receiver.baseURL + "/h", type: .leaseRevoked))
        sender.send(sent)
        #expect(try await eventually { reports.finished.count == 1 })
        sender.redeliver(final(sent, attemptsMade: 1))
        #expect(try await eventually { reports.finished.count == 2 })
        #expect(receiver.requests.map { $0.headers["webhook-id"] } == [sent.id, sent.id])
        #expect(receiver.requests.allSatisfy { isSigned($0, for: sent) })
        #expect(reports.attempts(of: sent.id).map(\.attempt) == [1, 2])
    }

    private func final(_ message: WebhookMessage, attemptsMade: Int = 0) -> WebhookMessage {
        WebhookMessage(
            id: message.id, leaseID: message.leaseID, eventType: message.eventType, url: message.url,
            secret: message.secret,
            body: message.body, retryUntil: message.retryUntil, attemptsAfterDeadline: 0, followsRetrySchedule: true,
            attemptsMade: attemptsMade)
    }
}
