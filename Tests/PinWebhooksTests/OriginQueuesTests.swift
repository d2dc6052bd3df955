import Testing

@testable import PinWebhooks

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
