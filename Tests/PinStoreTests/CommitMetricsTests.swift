import Foundation
import MetricsTestKit
import Testing

@testable import PinCore
@testable import PinStore

/// What a group commit records: one commit per batch (not per write), the writes it carried,
/// and its duration; a failed batch counts as an error.
@Suite struct CommitMetricsTests {
    @Test func eachBatchIsCountedWithItsSize() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pinlease-commit-metrics-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try SQLiteDatabase(path: directory + "/test.db")
        try database.execute("CREATE TABLE rows (n INTEGER PRIMARY KEY)")
        let metrics = TestMetrics()
        let commits = GroupCommit(database: database, metrics: metrics)
        func insert(_ n: Int64) -> GroupCommit.Ticket {
            commits.enqueue { database throws(CoreError) in
                try database.execute("INSERT INTO rows VALUES (?)", [.int(n)])
            }
        }
        // Three writes queued before anyone waits: one batch.
        let tickets = [insert(1), insert(2), insert(3)]
        for ticket in tickets { try commits.wait(ticket) }
        try commits.wait(insert(4))  // a batch of its own
        #expect(throws: CoreError.self) { try commits.wait(insert(4)) }  // a duplicate: the batch fails
        let ok = try metrics.expectCounter("pinlease_state_commits_total", [("result", "ok")])
        let failed = try metrics.expectCounter("pinlease_state_commits_total", [("result", "error")])
        #expect(ok.totalValue == 2 && failed.totalValue == 1)
        let sizes = try metrics.expectRecorder("pinlease_state_commit_batch_size")
        #expect(sizes.values == [3, 1, 1])
        let durations = try metrics.expectTimer("pinlease_state_commit_duration_seconds")
        #expect(durations.values.count == 3 && durations.values.allSatisfy { $0 >= 0 })
    }

    @Test func everyStoreMetricIsDescribed() {
        let names = Set(LeaseStore.metricDescriptions.map(\.name))
        #expect(
            names == [
                "pinlease_state_commits_total", "pinlease_state_commit_batch_size",
                "pinlease_state_commit_duration_seconds",
            ])
    }
}
