import Foundation
import PinJSON
import PinWire
import Testing

@testable import PinCore
@testable import PinStore

/// The write-ahead log of the state database shrinks back once the daemon is idle.
@Suite struct LeaseStoreLogTests {
    @Test func theLogIsTruncatedOnceWritesStop() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pinlease-wal-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try LeaseStore(directory: directory)
        let data: JSONObject = ["padding": .string(String(repeating: "x", count: 2000))]
        for chunk in 0..<40 {
            let events = (0..<50).map { index in
                Event(
                    sequence: UInt64(chunk * 50 + index + 1), type: .leaseGranted, timestamp: "t", data: data,
                    holder: nil)
            }
            try store.wait(store.enqueue(events: events))
        }
        let walPath = directory + "/pinlease.db-wal"
        func walSize() throws -> Int {
            try #require(try FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int)
        }
        #expect(try walSize() > 1 << 20, "the writes grew the log")
        try store.checkpoint()  // just after writes: copied into the database, but the file stays
        #expect(try walSize() > 1 << 20, "the log is not truncated while writes may go on")
        for _ in 0..<LeaseStore.quietRunsBeforeTruncate { try store.checkpoint() }
        #expect(try walSize() == 0, "the log is truncated once the daemon is idle")
        #expect(store.events(after: 0, limit: 10_000).count == 2000, "every write is still there")
    }
}
