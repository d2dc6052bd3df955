import Foundation
import Logging
import Synchronization
import Testing

@testable import PinCore
@testable import PinWebhooks

@Suite struct WebhookSenderTests {
    @Test func deliversOnFirst2xxWithSignedStandardHeaders() async throws {
        let receiver = try LoopbackReceiver { _, _ in .init(status: 204) }
        defer { receiver.stop() }
        let reports = Reports()
        let sender = try reports.makeSender(try configuration([receiver.baseURL + "/"]))
        defer { sender.shutdown() }
        let sent = message(receiver.baseURL + "/hooks?x=1")
        sender.send(sent)
        sender.send(sent)  // the same id while pending: ignored
        #expect(try await eventually { reports.finished.count == 1 })
        #expect(reports.outcome(of: sent.id) == .delivered)
        #expect(sender.pendingCount == 0)

        let request = try #require(receiver.requests.first)
        #expect(receiver.requests.count == 1)
        #expect(request.method == "POST" && request.path == "/hooks?x=1")
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["user-agent"] == "pinleased")
        #expect(request.headers["expect"] == nil)
        #expect(isSigned(request, for: sent))
        let timestamp = try #require(request.headers["webhook-timestamp"].flatMap { Double($0) })
        #expect(abs(timestamp - Date().timeIntervalSince1970) < 60)

        let attempt = try #require(reports.attempts.first)
        #expect(reports.attempts.count == 1)
        #expect(
            attempt.attempt == 1 && attempt.statusCode == 204 && attempt.error == nil && attempt.outcome == .delivered)
        #expect(
            attempt.messageID == sent.id && attempt.leaseID == "lease_1" && attempt.eventType == .leaseRevoking
                && attempt.url == sent.url)
    }

    @Test func serverErrorIsRetriedWithTheSameID() async throws {
        let receiver = try LoopbackReceiver { index, _ in .init(status: index == 0 ? 500 : 200) }
        defer { receiver.stop() }
        let reports = Reports()
        let sender = try reports.makeSender(try configuration([receiver.baseURL]))
        defer { sender.shutdown() }
        let sent = message(receiver.baseURL + "/h")
        sender.send(sent)
        #expect(try await eventually { reports.finished.count == 1 })
        #expect(reports.outcome(of: sent.id) == .delivered)
        let attempts = reports.attempts(of: sent.id)
        #expect(attempts.map(\.attempt) == [1, 2])
        #expect(attempts.map(\.statusCode) == [500, 200])
        guard case .retrying(let at) = attempts.first?.outcome else {
            Issue.record("first attempt should retry: \(attempts)")
            return
        }
        #expect(at >= attempts[0].startedAt && at <= attempts[1].startedAt + 0.05)
        #expect(attempts.last?.outcome == .delivered)
        #expect(receiver.requests.count == 2)
        #expect(receiver.requests.allSatisfy { isSigned($0, for: sent) })
    }

    @Test func connectionsAreReused() async throws {
        let receiver = try LoopbackReceiver()
        defer { receiver.stop() }
        let reports = Reports()
        let sender = try reports.makeSender(try configuration([receiver.baseURL]))
        defer { sender.shutdown() }
        for count in 1...5 {
            sender.send(message(receiver.baseURL + "/h"))
            #expect(try await eventually { reports.finished.count == count })
        }
        #expect(receiver.requests.map(\.connection) == [1, 1, 1, 1, 1])
    }

    @Test func retryAfterIsHonouredAndEachAttemptHasItsOwnTimestamp() async throws {
        let receiver = try LoopbackReceiver { index, _ in
            index == 0 ? .init(status: 503, headers: [("Retry-After", "1")]) : .init(status: 200)
        }
        defer { receiver.stop() }
        let reports = Reports()
        let sender = try reports.makeSender(try configuration([receiver.baseURL]))
        defer { sender.shutdown() }
        let sent = message(receiver.baseURL + "/h")
        sender.send(sent)
        #expect(try await eventually { reports.finished.count == 1 })
        #expect(reports.outcome(of: sent.id) == .delivered)
        let requests = receiver.requests
        try #require(requests.count == 2)
        #expect(requests[1].receivedAt - requests[0].receivedAt >= 0.9)
        let timestamps = requests.compactMap { $0.headers["webhook-timestamp"].flatMap { Int64($0) } }
        #expect(timestamps.count == 2 && timestamps[1] > timestamps[0])
        #expect(requests.allSatisfy { isSigned($0, for: sent) })
        #expect(Set(requests.compactMap { $0.headers["webhook-id"] }) == [sent.id])
    }

    @Test func goneStopsAfterOneAttempt() async throws {
        let receiver = try LoopbackReceiver { _, _ in .init(status: 410) }
        defer { receiver.stop() }
        let reports = Reports()
        let sender = try reports.makeSender(try configuration([receiver.baseURL]))
        defer { sender.shutdown() }
        let sent = message(receiver.baseURL + "/h")
        sender.send(sent)
        #expect(try await eventually { reports.finished.count == 1 })
        #expect(reports.outcome(of: sent.id) == .failed("gone (410)"))
        try await Task.sleep(for: .milliseconds(500))
        #expect(receiver.requests.count == 1)
        #expect(reports.attempts.map(\.statusCode) == [410])
    }

    @Test func redirectsAreNotFollowed() async throws {
        let landing = try LoopbackReceiver()
        defer { landing.stop() }
        let location = landing.baseURL + "/landing"
        let receiver = try LoopbackReceiver { _, _ in .init(status: 302, headers: [("Location", location)]) }
        defer { receiver.stop() }
        let reports = Reports()
        let sender = try reports.makeSender(try configuration([receiver.baseURL, landing.baseURL]))
        defer { sender.shutdown() }
        let sent = message(receiver.baseURL + "/h", retryFor: 1)
        sender.send(sent)
        #expect(try await eventually { reports.finished.count == 1 })
        guard case .failed(let reason) = reports.outcome(of: sent.id) else {
            Issue.record("a redirect must not deliver")
            return
        }
        #expect(reason.hasPrefix("deadline passed after"))
        let first = try #require(reports.attempts.first)
        #expect(first.statusCode == 302)
        #expect(first.error == "302 redirect (not followed) to \(location)")
        #expect(landing.requests.isEmpty)
        #expect(receiver.requests.count == reports.attempts.count)
    }

    @Test func unreachableReceiverIsRetriedUntilTheDeadline() async throws {
        let port = try LoopbackReceiver.unusedPort()
        let reports = Reports()
        let sender = try reports.makeSender(try configuration(["http://127.0.0.1:\(port)/"]))
        defer { sender.shutdown() }
        let sent = message("http://127.0.0.1:\(port)/h", retryFor: 1.5)
        sender.send(sent)
        #expect(try await eventually { reports.finished.count == 1 })
        let attempts = reports.attempts
        #expect(attempts.count >= 2)
        #expect(reports.outcome(of: sent.id) == .failed("deadline passed after \(attempts.count) attempts"))
        #expect(attempts.allSatisfy { $0.statusCode == nil && $0.error != nil })
        #expect(attempts.dropLast().allSatisfy { if case .retrying = $0.outcome { true } else { false } })
        #expect(attempts.last?.outcome == reports.outcome(of: sent.id))
        #expect(attempts.allSatisfy { $0.startedAt <= sent.retryUntil + 1 })
        #expect(sender.pendingCount == 0)
    }

    @Test func timeoutsAreFailedAttempts() async throws {
        let receiver = try LoopbackReceiver { _, _ in .init(status: 200, delay: 5) }
        defer { receiver.stop() }
        let reports = Reports()
        var short = try configuration([receiver.baseURL])
        short.requestTimeout = 0.3
        let sender = try reports.makeSender(short)
        defer { sender.shutdown() }
        let sent = message(receiver.baseURL + "/h", retryFor: 0.5)
        sender.send(sent)
        #expect(try await eventually { reports.finished.count == 1 })
        let attempts = reports.attempts
        #expect(!attempts.isEmpty)
        #expect(
            attempts.allSatisfy {
                $0.statusCode == nil && $0.error?.contains("timed out") == true && $0.durationSeconds >= 0.25
            })
        #expect(reports.outcome(of: sent.id) == .failed("deadline passed after \(attempts.count) attempts"))
    }

    @Test func attemptsAfterTheDeadlineAreCounted() async throws {
        let port = try LoopbackReceiver.unusedPort()
        let reports = Reports()
        let sender = try reports.makeSender(try configuration(["http://127.0.0.1:\(port)/"]))
        defer { sender.shutdown() }
        let late = message("http://127.0.0.1:\(port)/h", type: .leaseRevoked, retryFor: -10, afterDeadline: 3)
        let tooLate = message("http://127.0.0.1:\(port)/h", retryFor: -10)
        sender.send(late)
        sender.send(tooLate)
        #expect(try await eventually { reports.finished.count == 2 })
        #expect(reports.outcome(of: late.id) == .failed("deadline passed after 3 attempts"))
        #expect(reports.attempts(of: late.id).map(\.attempt) == [1, 2, 3])
        #expect(reports.outcome(of: tooLate.id) == .failed("deadline passed after 0 attempts"))
        #expect(reports.attempts(of: tooLate.id).isEmpty)
    }

    @Test func loopbackIsRefusedAtConnectTimeUnlessThePrefixNamesIt() async throws {
        let receiver = try LoopbackReceiver()
        defer { receiver.stop() }
        let reports = Reports()
        // A host name that resolves to 127.0.0.1 (through curl, not /etc/hosts) and a prefix
        // that does not name loopback: the connection is refused on the address curl connects to.
        var refusing = try configuration([
            "http://pinlease-test.invalid:\(receiver.port)/", "http://localhost:\(receiver.port)/",
        ])
        refusing.resolve = ["pinlease-test.invalid:\(receiver.port):127.0.0.1"]
        let sender = try reports.makeSender(refusing)
        defer { sender.shutdown() }
        let named = message("http://pinlease-test.invalid:\(receiver.port)/h", retryFor: 0.5)
        sender.send(named)
        #expect(try await eventually { reports.outcome(of: named.id) != nil })
        guard case .failed(let reason) = reports.outcome(of: named.id) else {
            Issue.record("a loopback connection through a non-loopback name must not deliver")
            return
        }
        #expect(reason.hasPrefix("deadline passed after"))
        let attempts = reports.attempts(of: named.id)
        #expect(!attempts.isEmpty)
        #expect(
            attempts.allSatisfy {
                $0.error == "connection to 127.0.0.1 refused by the allow-list (loopback/link-local not listed)"
            })
        #expect(receiver.requests.isEmpty)

        // The literal name `localhost` in the prefix allows loopback.
        let literal = message("http://localhost:\(receiver.port)/h")
        sender.send(literal)
        #expect(try await eventually { reports.outcome(of: literal.id) != nil })
        #expect(reports.outcome(of: literal.id) == .delivered)
        #expect(receiver.requests.count == 1)
    }

    @Test func cancelStopsRetriesOfALease() async throws {
        let receiver = try LoopbackReceiver { _, _ in .init(status: 500) }
        defer { receiver.stop() }
        let reports = Reports()
        let sender = try reports.makeSender(try configuration([receiver.baseURL]))
        defer { sender.shutdown() }
        let revoking = message(receiver.baseURL + "/h", type: .leaseRevoking, retryFor: 120)
        let revoked = message(receiver.baseURL + "/h", type: .leaseRevoked, retryFor: 120)
        let other = message(receiver.baseURL + "/h", lease: "lease_2", retryFor: 120)
        for sent in [revoking, revoked, other] { sender.send(sent) }
        #expect(
            try await eventually { [revoking, revoked, other].allSatisfy { reports.attempts(of: $0.id).count >= 2 } })

        sender.cancel(leaseID: "lease_1", eventTypes: [.leaseRevoking])
        #expect(try await eventually { reports.outcome(of: revoking.id) != nil })
        #expect(reports.outcome(of: revoking.id) == .failed("cancelled"))
        #expect(reports.outcome(of: revoked.id) == nil)

        sender.cancel(leaseID: "lease_1")
        #expect(try await eventually { reports.outcome(of: revoked.id) != nil })
        #expect(reports.outcome(of: revoked.id) == .failed("cancelled"))
        #expect(sender.pendingCount == 1)  // lease_2's message goes on

        let counts = [revoking, revoked].map { reports.attempts(of: $0.id).count }
        try await Task.sleep(for: .seconds(1))
        #expect([revoking, revoked].map { reports.attempts(of: $0.id).count } == counts)
        #expect(reports.outcome(of: other.id) == nil)
    }

    @Test func manySlowReceiversAreServedConcurrently() async throws {
        // The first answers wait until `together` requests are held at once (a minute at most):
        // a sender that posts one at a time cannot pass, however fast or slow the machine is.
        let together = 4
        let held = HeldRequests(until: together)
        let receiver = try LoopbackReceiver { _, _ in
            held.arriveAndWait(timeout: 60)
            return .init(status: 200)
        }
        defer { receiver.stop() }
        let reports = Reports()
        var settings = try configuration([receiver.baseURL])
        settings.maxTransfersPerOrigin = settings.maxConcurrentTransfers  // one receiver may take every transfer here
        settings.requestTimeout = 120  // longer than the receiver ever holds a request
        let sender = try reports.makeSender(settings)
        defer { sender.shutdown() }
        let messages = (0..<200).map { index in message(receiver.baseURL + "/h", lease: "lease_\(index)", retryFor: 300)
        }
        for sent in messages { sender.send(sent) }
        #expect(try await eventually(timeout: 180) { reports.finished.count == messages.count })
        #expect(held.mostAtOnce >= together, "at most \(held.mostAtOnce) requests were in flight at once")
        #expect(reports.finished.allSatisfy { $0.outcome == .delivered })
        #expect(Set(receiver.requests.compactMap { $0.headers["webhook-id"] }) == Set(messages.map(\.id)))
    }

    @Test func shutdownWithPendingMessagesReturnsPromptly() async throws {
        // The slow receiver never answers while the test runs and the sender would wait 300 s
        // for it: the state checked below holds however late the check comes (with a 20 s
        // delay and a 10 s timeout, a loaded machine saw the retry of a timed-out request).
        let slow = try LoopbackReceiver { _, _ in .init(status: 200, delay: 600) }
        defer { slow.stop() }
        let port = try LoopbackReceiver.unusedPort()
        let reports = Reports()
        var configuration = try configuration([slow.baseURL, "http://127.0.0.1:\(port)"])
        configuration.requestTimeout = 300
        let sender = try reports.makeSender(configuration)
        for index in 0..<5 {
            sender.send(message(slow.baseURL + "/h", lease: "slow_\(index)", retryFor: 600))
            sender.send(message("http://127.0.0.1:\(port)/h", lease: "down_\(index)", retryFor: 600))
        }
        #expect(try await eventually(timeout: 120) { slow.requests.count == 5 && reports.attempts.count >= 5 })
        #expect(sender.pendingCount == 10)
        let start = Date()
        sender.shutdown()
        // Far below the 300 s a shutdown that waited for the slow transfers would take.
        #expect(Date().timeIntervalSince(start) < 60)
        sender.shutdown()
        #expect(sender.pendingCount == 0)
        sender.send(message(slow.baseURL + "/h"))
        #expect(sender.pendingCount == 0)
        #expect(reports.finished.isEmpty)
    }

    @Test func releasingTheSenderStopsIt() async throws {
        let port = try LoopbackReceiver.unusedPort()
        let reports = Reports()
        do {
            let sender = try reports.makeSender(try configuration(["http://127.0.0.1:\(port)/"]))
            sender.send(message("http://127.0.0.1:\(port)/h", retryFor: 120))
            #expect(try await eventually { reports.attempts.count >= 2 })
        }
        let count = reports.attempts.count
        try await Task.sleep(for: .milliseconds(700))
        #expect(reports.attempts.count == count)
        #expect(reports.finished.isEmpty)
    }
}
