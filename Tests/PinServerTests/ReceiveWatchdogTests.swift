import Glibc
import Testing

@testable import PinServer

@Suite("Connection limits and the receive watchdog")
struct ReceiveWatchdogTests {
    @Test("automatic limits follow the descriptor limit, with a floor and a ceiling")
    func automaticLimits() {
        #expect(ConnectionLimits.automatic(descriptors: 1024) == (tcp: 576, unix: 96))
        #expect(ConnectionLimits.automatic(descriptors: 64) == (tcp: 64, unix: 64))
        #expect(ConnectionLimits.automatic(descriptors: 20_000) == (tcp: 11_928, unix: 1024))
        #expect(ConnectionLimits.automatic(descriptors: 8192) == (tcp: 4608, unix: 768))
        #expect(ConnectionLimits.automatic(descriptors: 1 << 20) == (tcp: 16_384, unix: 1024))
    }

    @Test("a first request is bounded from the accept, a kept-alive one from its request line")
    func deadlines() {
        let watchdog = ReceiveWatchdog(receiveLimitSeconds: 5, idleLimitSeconds: 100, logger: .test)
        let second: Int64 = 1_000_000_000
        let accepted = MonotonicClock.nanoseconds()
        let watch = watchdog.connectionStarted(fd: -1)
        defer { watchdog.connectionClosed(watch) }
        watchdog.requestStarted(watch)
        #expect(watch.isOverdue(now: accepted + 6 * second))
        watchdog.requestReceived(watch)
        #expect(!watch.isOverdue(now: accepted + 1_000 * second), "no bound while the request is handled")
        watchdog.requestCompleted(watch)
        #expect(!watch.isOverdue(now: accepted + 50 * second), "kept alive: the idle limit applies")
        #expect(watch.isOverdue(now: accepted + 101 * second))
        let line = MonotonicClock.nanoseconds()
        watchdog.requestStarted(watch)
        #expect(!watch.isOverdue(now: line + 4 * second))
        #expect(watch.isOverdue(now: line + 6 * second))
    }

    @Test("a sweep shuts down only connections past their deadline; a received request stops the clock")
    func sweepShutsDownOverdueOnly() throws {
        let watchdog = ReceiveWatchdog(receiveLimitSeconds: 0.001, idleLimitSeconds: 0, logger: .test)
        var overdue: [Int32] = [0, 0]
        var received: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &overdue) == 0)
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &received) == 0)
        defer { for fd in overdue + received { close(fd) } }
        let slow = watchdog.connectionStarted(fd: overdue[0])
        let done = watchdog.connectionStarted(fd: received[0])
        watchdog.requestReceived(done)
        // The deadline (1 ms after the start) has passed once the clock moved past it.
        let start = MonotonicClock.nanoseconds()
        while MonotonicClock.nanoseconds() < start + 2_000_000 { usleep(1000) }
        #expect(watchdog.sweep() == 1)
        var byte: UInt8 = 0
        #expect(read(overdue[1], &byte, 1) == 0, "the overdue connection's peer sees the end of the stream")
        #expect(
            recv(received[1], &byte, 1, Int32(MSG_DONTWAIT)) == -1 && errno == EAGAIN, "the other connection stays open"
        )
        watchdog.connectionClosed(slow)
        watchdog.connectionClosed(done)
        #expect(watchdog.connectionCount == 0)
    }
}
