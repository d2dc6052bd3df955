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
