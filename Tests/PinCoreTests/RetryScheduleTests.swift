import Testing
@testable import PinCore

@Suite struct RetryScheduleTests {
    @Test func standardScheduleReachesHours() {
        let schedule = RetrySchedule.standard
        #expect(schedule.delays == [0, 5, 300, 1800, 7200, 18000, 36000, 36000])
        #expect(schedule.delay(afterFailedAttempts: 0) == 0)
        #expect(schedule.delay(afterFailedAttempts: 1) == 5)
        #expect(schedule.delay(afterFailedAttempts: 7) == 36000)
        #expect(schedule.delay(afterFailedAttempts: 8) == nil)
        #expect(schedule.span >= 24 * 3600)
    }

    @Test func parsesCommaSeparatedSeconds() {
        #expect(RetrySchedule.parse("0, 1,2.5")?.delays == [0, 1, 2.5])
        #expect(RetrySchedule.parse("") == nil)
        #expect(RetrySchedule.parse("1,,2") == nil)
        #expect(RetrySchedule.parse("1,-2") == nil)
        #expect(RetrySchedule.parse("1,x") == nil)
        #expect(RetrySchedule.parse("inf") == nil)
    }
}

@Suite struct OriginQueuesTests {
    @Test func originsAreSchemeHostAndPort() {
        #expect(OriginQueues.origin(of: "http://Example.com/a?b") == "http://example.com:80")
        #expect(OriginQueues.origin(of: "https://user:pw@example.com/a") == "https://example.com:443")
        #expect(OriginQueues.origin(of: "http://127.0.0.1:8080#x") == "http://127.0.0.1:8080")
        #expect(OriginQueues.origin(of: "http://[::1]:9/h") == "http://[::1]:9")
        #expect(OriginQueues.origin(of: "http://[::1]/h") == "http://[::1]:80")
    }

    @Test func originsTakeTurnsWithinTheirLimit() {
        var queues = OriginQueues(perOrigin: 2)
        for index in 0..<5 { queues.enqueue("a\(index)", origin: "A") }
        queues.enqueue("b0", origin: "B")
        queues.enqueue("b1", origin: "B")
        var started: [String] = []
        while let (id, _) = queues.next() { started.append(id) }
        #expect(started == ["a0", "b0", "a1", "b1"])
        #expect(queues.inFlight(origin: "A") == 2 && queues.readyCount(origin: "A") == 3)
        queues.enqueue("c0", origin: "C")  // a new origin starts at once even while A is full
        #expect(queues.next()?.id == "c0")
        #expect(queues.next() == nil)
        queues.finished(origin: "A")
        #expect(queues.next()?.id == "a2")
        #expect(queues.next() == nil)
        queues.finished(origin: "B")
        queues.finished(origin: "B")
        #expect(queues.inFlight(origin: "B") == 0)
    }
}
