import Foundation
import Glibc
import LinuxFS
import Logging
import PinJSON
import PinTestSupport
import PinWire
import ServiceLifecycle
import Testing

@testable import PinCore

/// The lease indexes (by pin, by holder, in grant order) and paging through them.
@Suite struct LeaseIndexTests {
    @Test func indexKeepsIdsInOrderWhateverTheInsertOrder() {
        var index = LeaseIDIndex()
        for id in ["c", "a", "e", "b", "d", "c"] { index.insert(id) }
        #expect(index.allIDs == ["a", "b", "c", "d", "e"])
        #expect(index.count == 5)
        let first = index.page(after: nil, limit: 2) { _ in true }
        #expect(first.ids == ["a", "b"] && first.more)
        let second = index.page(after: "b", limit: 2) { _ in true }
        #expect(second.ids == ["c", "d"] && second.more)
        let last = index.page(after: "d", limit: 2) { _ in true }
        #expect(last.ids == ["e"] && !last.more)
        // A key that is not in the index (forgotten since) still finds its place.
        #expect(index.page(after: "bb", limit: 10) { _ in true }.ids == ["c", "d", "e"])
        #expect(index.page(after: nil, limit: 10) { $0 != "c" }.ids == ["a", "b", "d", "e"])
        // Exactly `limit` left: no further page.
        #expect(index.page(after: "c", limit: 2) { _ in true }.more == false)
    }

    @Test func forgottenIdsAreDroppedOnceTheyAreHalf() {
        var index = LeaseIDIndex()
        for number in 0..<10 { index.insert(String(format: "lease_%02d", number)) }
        var present = Set(index.allIDs)
        present.remove("lease_00")
        index.forget(1) { present.contains($0) }
        #expect(index.count == 9 && index.allIDs.count == 10)  // lazily kept
        for id in ["lease_01", "lease_02", "lease_03", "lease_04"] { present.remove(id) }
        index.forget(4) { present.contains($0) }
        #expect(index.allIDs == present.sorted() && index.count == 5)
        #expect(index.page(after: nil, limit: 10) { present.contains($0) }.ids == present.sorted())
    }

    @Test func slicesPagesOfASortedList() {
        let items = (1...25).map { String(format: "%02d", $0) }
        var seen: [String] = []
        var after: String?
        repeat {
            let (page, next) = PageRequest(limit: 10, after: after).slice(items) { $0 }
            #expect(page.count == 10 || next == nil)
            seen += page
            after = next
        } while after != nil
        #expect(seen == items)
        #expect(PageRequest(limit: 5, after: "25").slice(items) { $0 }.items.isEmpty)
        #expect(PageRequest.all.slice(items) { $0 }.next == nil)
    }

    // MARK: the book

    /// A lease book on a real (mapped) pin of a temporary file, with its state in the in-memory fakes.
    private final class Fixture {
        let directory: String
        let pins: PinBook
        let book: LeaseBook
        private let descriptor: Int32

        init(pinIDs: [String]) throws {
            directory =
                FileManager.default.temporaryDirectory.appendingPathComponent(
                    "pinlease-leaseindex-\(UUID().uuidString)"
                ).path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let data = directory + "/data.bin"
            _ = FileManager.default.createFile(atPath: data, contents: Data(repeating: 7, count: 4096))
            descriptor = open(data, O_RDONLY)
            pins = PinBook(
                budget: PinBudget(maxBytes: 1 << 20, maxPins: 8), store: MemoryFileRecords(),
                logger: Logger(label: "test"))
            for id in pinIDs {
                let record = PinRecord(
                    id: id, path: RootedPath(root: "data", relative: "data.bin"), file: FileID(device: 1, inode: 1),
                    offset: 0, length: 4096,
                    access: .read, longTerm: .no, autoPin: false, createdAt: "2026-12-01T00:00:00Z")
                try pins.reserve(record)
                let mapping = try MemoryMapping(
                    file: OpenFile(adopting: dup(descriptor), path: data), offset: 0, length: 4096, writable: false)
                pins.activate(
                    id, PinnedRange(mapping: mapping, longTermPin: nil, longTermReason: nil, mapSyncReason: nil))
            }
            let store = MemoryLeaseJournal()
            let allowList = try WebhookAllowList(prefixes: [])
            var policy = LeasePolicy()
            policy.graceDefaultSeconds = 0
            book = LeaseBook(
                store: store, pins: pins, events: EventLog(),
                notifier: LeaseNotifier(
                    configuration: WebhookConfiguration(allowList: allowList), store: store,
                    logger: Logger(label: "test"),
                    makeTransport: RecordingWebhookTransport().factory),
                policy: policy, allowList: allowList, logger: Logger(label: "test"), tearDownPin: { _ in },
                leaseEnded: { _ in },
                webhookBody: { $0.webhookBody })
            // The expiry and deadline timers run (until `book.stop()` in deinit joins their thread).
            try book.startTimers()
        }

        deinit {
            book.stop()
            close(descriptor)
            try? FileManager.default.removeItem(atPath: directory)
        }

        func grant(_ pin: String, _ holder: String, ttl: Int = 3600) throws -> String {
            try book.grant(
                pinID: pin, LeaseGrantRequest(target: .pin(id: pin), holder: holder, ttlSeconds: ttl, graceSeconds: 0),
                autoPin: false
            ).id
        }

        func ids(_ filter: LeaseFilter, caller: LeaseCaller = .admin) -> [String] {
            book.list(filter, caller: caller).leases.map(\.id)
        }

        /// Every page of `limit` leases that match `filter`, following each page's `next`.
        func paged(_ filter: LeaseFilter, limit: Int) -> [String] {
            var ids: [String] = []
            var after: String?
            repeat {
                let list = book.list(filter, page: PageRequest(limit: limit, after: after), caller: .admin)
                ids += list.leases.map(\.id)
                after = list.next
            } while after != nil
            return ids
        }
    }

    @Test func indexesStayConsistentThroughEveryTransition() throws {
        let fixture = try Fixture(pinIDs: ["pin_a", "pin_b"])
        let book = fixture.book
        var granted: [String] = []
        for number in 0..<12 {
            granted.append(try fixture.grant(number % 3 == 0 ? "pin_b" : "pin_a", "holder\(number % 4)"))
        }
        #expect(book.indexDiscrepancies() == [])
        #expect(book.liveCount == 12)
        #expect(fixture.ids(LeaseFilter()) == granted.sorted())
        #expect(
            fixture.ids(LeaseFilter(pinID: "pin_b"))
                == granted.enumerated().filter { $0.offset % 3 == 0 }.map(\.element).sorted())
        #expect(
            fixture.ids(LeaseFilter(holder: "holder1"))
                == granted.enumerated().filter { $0.offset % 4 == 1 }.map(\.element).sorted())
        #expect(fixture.ids(LeaseFilter(pinID: "pin_missing")).isEmpty)
        #expect(fixture.ids(LeaseFilter(), caller: .holder("holder2")) == fixture.ids(LeaseFilter(holder: "holder2")))
        #expect(fixture.paged(LeaseFilter(), limit: 5) == granted.sorted())
        #expect(fixture.paged(LeaseFilter(pinID: "pin_a"), limit: 3) == fixture.ids(LeaseFilter(pinID: "pin_a")))

        // Release, revoke (grace 0: forced at once), and expiry (TTL 1 s, grace 0).
        _ = try book.release(id: granted[0], caller: .admin)
        _ = try book.release(id: granted[1], caller: .holder("holder1"))
        _ = try book.revoke(id: granted[2], reason: nil, graceSeconds: 0)
        let expiring = try fixture.grant("pin_b", "holder9", ttl: 1)
        #expect(book.indexDiscrepancies() == [])
        let ended: Set<LeaseState> = [.released, .revoked, .expired]
        #expect(waitUntil { (try? book.record(id: expiring, caller: .admin).state) == .expired })
        #expect(waitUntil { (try? book.record(id: granted[2], caller: .admin).state) == .revoked })
        #expect(book.indexDiscrepancies() == [])
        #expect(book.liveCount == 9)
        #expect(Set(book.liveLeases(onPins: nil).map(\.id)) == Set(granted[3...]))
        // By id (ids made in the same millisecond are not in grant order).
        #expect(
            book.liveLeases(onPins: ["pin_b"]).map(\.id)
                == granted.enumerated().filter { $0.offset % 3 == 0 && $0.offset > 2 }.map(\.element).sorted())
        #expect(fixture.ids(LeaseFilter(state: .active, pinID: "pin_a")).allSatisfy { !granted[0...2].contains($0) })
        let endedIDs = Set(
            fixture.ids(LeaseFilter()).filter { id in
                ended.contains((try? book.record(id: id, caller: .admin).state) ?? .active)
            })
        #expect(endedIDs == [granted[0], granted[1], granted[2], expiring])

        // Prune: the three oldest ended leases are forgotten, from the indexes too.
        book.prune(keepingEnded: 1)
        #expect(book.indexDiscrepancies() == [])
        #expect(fixture.ids(LeaseFilter()).count == 10)
        #expect(
            fixture.ids(LeaseFilter(holder: "holder0"))
                == fixture.ids(LeaseFilter()).filter { (try? book.record(id: $0, caller: .admin).holder) == "holder0" })
        #expect(fixture.paged(LeaseFilter(), limit: 4) == fixture.ids(LeaseFilter()))

        // A revokeAll ends everything on pin_a; pages stay in order with gaps.
        book.revokeAll(onPins: ["pin_a"], reason: "test", latestDeadline: WallClock.nowMilliseconds())
        #expect(waitUntil { book.liveLeases(onPins: ["pin_a"]).isEmpty })
        book.prune(keepingEnded: 0)
        #expect(book.indexDiscrepancies() == [])
        #expect(Set(fixture.ids(LeaseFilter())) == Set(book.liveLeases(onPins: nil).map(\.id)))
        #expect(fixture.ids(LeaseFilter(pinID: "pin_a")).isEmpty)
        #expect(book.liveCount == fixture.ids(LeaseFilter()).count)
    }
}
