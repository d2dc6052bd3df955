import Foundation
import PinJSON
import PinWire
import Testing

@testable import PinCore
@testable import PinStore

/// The durable outbox of a state database written before issue 8 (rows deleted once finished,
/// no attempt count) keeps working: its pending rows are resumed, and new columns are added.
@Suite struct OutboxMigrationTests {
    @Test func anOutboxFromTheEarlierSchemaIsMigratedAndResumed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pinlease-outbox-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let old = try SQLiteDatabase(path: directory + "/pinlease.db")
            try old.execute(
                """
                CREATE TABLE leases (
                    id TEXT PRIMARY KEY, pin_id TEXT NOT NULL, root TEXT NOT NULL, relative_path TEXT NOT NULL,
                    holder TEXT NOT NULL, state TEXT NOT NULL, ttl_s INTEGER NOT NULL, grace_s INTEGER NOT NULL,
                    webhook_url TEXT, webhook_secret TEXT, holder_uid INTEGER, auto_pin INTEGER NOT NULL,
                    granted_at INTEGER NOT NULL, renewed_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
                    reason TEXT, deadline INTEGER, ended_at INTEGER)
                """)
            try old.execute(
                """
                CREATE TABLE webhook_outbox (
                    id TEXT PRIMARY KEY, lease_id TEXT NOT NULL, event TEXT NOT NULL, url TEXT NOT NULL, \
                body TEXT NOT NULL,
                    retry_until INTEGER NOT NULL, attempts_after INTEGER NOT NULL)
                """)
            try old.execute(
                """
                INSERT INTO leases VALUES ('lease_1', 'pin_1', 'r', 'f', 'h1', 'revoked', 60, 30, \
                'http://127.0.0.1:1/h', 'whsec_x',
                    NULL, 0, 1, 1, 2, 'requested', 3, 3)
                """)
            try old.execute(
                "INSERT INTO webhook_outbox VALUES ('msg_1', 'lease_1', 'lease.revoked', 'http://127.0.0.1:1/h', "
                    + "'{}', 3, 5)"
            )
            try old.execute(
                "INSERT INTO webhook_outbox VALUES ('msg_2', 'lease_gone', 'lease.revoked', 'http://127.0.0.1:1/h', "
                    + "'{}', 3, 5)"
            )
        }
        let store = try LeaseStore(directory: directory)
        let pending = try store.outbox()
        #expect(pending.map(\.id) == ["msg_1"], "a row of a forgotten lease is dropped")
        let entry = try #require(pending.first)
        #expect(entry.attempts == 0 && entry.nextAttemptAt == nil && entry.finishedAt == nil)
        #expect(entry.followsRetrySchedule, "a lease.revoked written before the schedule existed follows it too")

        try store.recordDeliveries([], outbox: [.attempted(id: "msg_1", attempts: 3, nextAttemptAt: 5_000)])
        #expect(try store.outboxEntry(id: "msg_1")?.attempts == 3)
        #expect(try store.outboxEntry(id: "msg_1")?.nextAttemptAt == 5_000)
        try store.recordDeliveries([], outbox: [.finished(id: "msg_1", outcome: "delivered", at: 6_000)])
        #expect(try store.outbox().isEmpty)
        #expect(try store.outboxEntry(id: "msg_1")?.stateJSON["state"] == "delivered")
        try store.recordDeliveries([], outbox: [.reopened(id: "msg_1", attempts: 3, at: 7_000)])
        #expect(try store.outbox().map(\.id) == ["msg_1"])

        _ = try LeaseStore(directory: directory)  // migrating twice changes nothing
        try store.prune(endedLeases: ["lease_1"], eventsUpTo: nil)
        #expect(try store.outboxEntry(id: "msg_1") == nil, "a forgotten lease takes its messages along")
    }
}
