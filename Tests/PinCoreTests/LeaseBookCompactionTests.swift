import Testing

@testable import PinCore

/// The book's lease dictionary gives its storage back after a peak (issue 12: RssAnon stayed
/// 80 MiB higher after 100k leases had ended and been forgotten).
@Suite struct LeaseBookCompactionTests {
    private func lease(_ number: Int, state: LeaseState) -> LeaseRecord {
        LeaseRecord(
            id: "lease_" + String(number + 100_000), pinID: "pin_1", path: RootedPath(root: "data", relative: "f.bin"),
            holder: "h\(number % 3)", state: state, ttlSeconds: 60, graceSeconds: 0, webhookURL: nil,
            webhookSecret: nil, holderUID: nil, autoPin: false, grantedAt: 1_000, renewedAt: 1_000,
            expiresAt: 61_000, reason: nil, deadline: nil)
    }

    @Test func forgettingMostLeasesShrinksTheDictionaryAndKeepsTheRest() {
        var book = LeaseBook.Book()
        let peak = 40_000
        for number in 0..<peak { book.put(lease(number, state: .expired)) }
        #expect(book.leases.capacity >= peak)
        let kept = 1_000
        book.forget((0..<(peak - kept)).map { lease($0, state: .expired).id })
        #expect(book.leases.count == kept)
        #expect(
            book.leases.capacity < peak / 4,
            "capacity \(book.leases.capacity) for \(kept) leases: the storage of the peak was kept")
        let survivors = ((peak - kept)..<peak).map { lease($0, state: .expired) }
        #expect(survivors.allSatisfy { book.leases[$0.id]?.holder == $0.holder })
        #expect(book.stateCounts[LeaseState.expired.ordinal] == kept)
    }
}
