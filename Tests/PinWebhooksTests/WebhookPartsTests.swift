import PinJSON
import PinWire
import Testing

@testable import PinCore
@testable import PinWebhooks

/// A seeded generator (SplitMix64), so jittered delays are reproducible.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct WebhookPartsTests {
    @Test func backoffIsFullJitterUnderTheCappedExponential() {
        let schedule = BackoffSchedule()
        var generator = SeededGenerator(state: 7)
        for n in 1...40 {
            let bound = min(30, 0.25 * Double(1 << min(n - 1, 30)))
            for _ in 0..<50 {
                let delay = schedule.delay(afterFailedAttempts: n, using: &generator)
                #expect(delay >= 0.01 && delay <= bound)
            }
        }
        var a = SeededGenerator(state: 42)
        var b = SeededGenerator(state: 42)
        let first = (1...10).map { schedule.delay(afterFailedAttempts: $0, using: &a) }
        #expect(first == (1...10).map { schedule.delay(afterFailedAttempts: $0, using: &b) })
        var tiny = SeededGenerator(state: 1)
        #expect(BackoffSchedule(base: 0.001).delay(afterFailedAttempts: 1, using: &tiny) == 0.01)
    }

    @Test func timestampsHaveMillisecondsInUTC() {
        #expect(WallClock.format(epochSeconds: 1_614_265_330.1239) == "2021-02-25T15:02:10.123Z")
        #expect(WallClock.format(epochSeconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(WallClock.format(epochSeconds: -0.5) == "1969-12-31T23:59:59.500Z")
    }

    @Test func retryAfterTakesSecondsOrAnHTTPDate() {
        let date = 784_111_777.0  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(WebhookTransfer.retryAfterSeconds("1", now: 0) == 1)
        #expect(WebhookTransfer.retryAfterSeconds("120", now: 0) == 120)
        #expect(WebhookTransfer.retryAfterSeconds("999999999", now: 0) == 3600)
        #expect(WebhookTransfer.retryAfterSeconds("Sun, 06 Nov 1994 08:49:37 GMT", now: date - 5) == 5)
        #expect(WebhookTransfer.retryAfterSeconds("Sunday, 06-Nov-94 08:49:37 GMT", now: date - 5) == 5)
        #expect(WebhookTransfer.retryAfterSeconds("Sun, 06 Nov 1994 08:49:37 GMT", now: date + 100) == 0)
        #expect(WebhookTransfer.retryAfterSeconds("soon", now: 0) == nil)
        #expect(WebhookTransfer.retryAfterSeconds("", now: 0) == nil)
        #expect(WebhookTransfer.retryAfterSeconds("-1", now: 0) == nil)
    }

    @Test func deliveryAttemptJSON() {
        let retrying = DeliveryAttempt(
            messageID: "msg_1", leaseID: "lease_1", eventType: .leaseRevoking, url: "http://a.example/", attempt: 2,
            startedAt: 1_614_265_330.5, durationSeconds: 0.0123, statusCode: 500, error: nil,
            outcome: .retrying(at: 1_614_265_331))
        #expect(
            retrying.json
                == .object([
                    "webhook_id": "msg_1", "lease_id": "lease_1", "event": "lease.revoking", "url": "http://a.example/",
                    "attempt": 2,
                    "started_at": "2021-02-25T15:02:10.500Z", "duration_ms": 12, "status": 500, "outcome": "retrying",
                    "next_attempt_at": "2021-02-25T15:02:11.000Z",
                ]))
        let failed = DeliveryAttempt(
            messageID: "msg_1", leaseID: "lease_1", eventType: .leaseRevoked, url: "http://a.example/", attempt: 3,
            startedAt: 0, durationSeconds: 2, statusCode: nil, error: "Connection refused",
            outcome: .failed("deadline passed after 3 attempts"))
        let object = failed.json.objectValue
        #expect(object?["status"] == nil)
        #expect(object?["error"] == .string("Connection refused"))
        #expect(object?["outcome"] == .string("failed"))
        #expect(object?["reason"] == .string("deadline passed after 3 attempts"))
        #expect(object?["next_attempt_at"] == nil)
        #expect(
            DeliveryAttempt(
                messageID: "m", leaseID: "l", eventType: .leaseRevoked, url: "u", attempt: 1, startedAt: 0,
                durationSeconds: 0, statusCode: 204,
                error: nil, outcome: .delivered
            ).json.objectValue?["outcome"] == .string("delivered"))
    }

    @Test func messageIDsAreMsgAnd32Hex() {
        let id = WebhookMessage.makeID()
        #expect(id.hasPrefix("msg_") && id.count == 36)
        #expect(id.dropFirst(4).allSatisfy { $0.isHexDigit })
        #expect(WebhookMessage.makeID() != id)
    }
}
