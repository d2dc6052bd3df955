import Logging
import Synchronization

/// Forgetting the oldest ended leases and events, so the state database stays bounded.
extension LeaseBook {
    /// Ended leases kept for `GET /v1/leases` before the oldest are forgotten.
    static let endedLeasesKept = 10_000

    /// Forgets the oldest ended leases beyond `kept` (``endedLeasesKept``) and the oldest events
    /// beyond the policy's `eventsKept`.
    /// The rows go in writes of at most ``pruneChunk`` leases, so no commit waits long for them.
    func prune(keepingEnded kept: Int = LeaseBook.endedLeasesKept) {
        let forgotten: [String] = book.withLock { book in
            let excess = book.endedOrder.count - book.endedHead - kept
            guard excess > 0 else { return [] }
            let oldest = Array(book.endedOrder[book.endedHead..<(book.endedHead + excess)])
            book.forget(oldest)
            book.endedHead += excess
            if book.endedHead > max(kept, 1024) {
                book.endedOrder.removeFirst(book.endedHead)
                book.endedHead = 0
            }
            return oldest
        }
        let last = events.lastSequence
        var eventsUpTo = last > policy.eventsKept ? last - policy.eventsKept : nil
        var start = 0
        repeat {
            let chunk = Array(forgotten[start..<min(forgotten.count, start + Self.pruneChunk)])
            guard !chunk.isEmpty || eventsUpTo != nil else { return }
            do throws(CoreError) {
                try store.prune(endedLeases: chunk, eventsUpTo: eventsUpTo)
            } catch {
                logger.error("could not forget \(chunk.count) ended lease(s): \(error.detail)")
            }
            eventsUpTo = nil
            start += Self.pruneChunk
        } while start < forgotten.count
    }

    /// How many ended leases one write of ``prune()`` forgets.
    static let pruneChunk = 256
}
