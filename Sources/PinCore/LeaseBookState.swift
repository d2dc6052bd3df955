/// The book's memory: every lease by id, and the indexes that lists and live counts read.
/// Changed only inside a ``LeaseBook`` transition (under its lock).
extension LeaseBook {
    struct Book: Sendable {
        /// Writes the body of each webhook message (``notify(_:of:at:_:)``).
        let webhookBody: EventBodyEncoder
        /// Written only through ``put(_:)`` and ``forget(_:)``, which keep the indexes below.
        private(set) var leases: [String: LeaseRecord] = [:]
        var nextSequence: UInt64 = 1
        /// Ended leases, oldest end first (from `endedHead` on), for forgetting the oldest.
        var endedOrder: [String] = []
        var endedHead = 0
        /// Every lease, and the leases of each pin and of each holder, in grant order (for lists).
        private(set) var all = LeaseIDIndex()
        private(set) var byPin: [String: LeaseIDIndex] = [:]
        private(set) var byHolder: [String: LeaseIDIndex] = [:]
        /// The live (not ended) leases of each pin, and how many there are in all.
        private(set) var liveByPin: [String: Set<String>] = [:]
        private(set) var liveCount = 0
        /// How many leases the book holds in each state (indexed by ``LeaseState/ordinal``),
        /// for `pinlease_leases{state}`: kept by the same two writers as the other indexes,
        /// so a scrape reads it without scanning every lease under the lock.
        private(set) var stateCounts = [Int](repeating: 0, count: LeaseState.allCases.count)

        init(webhookBody: @escaping EventBodyEncoder) {
            self.webhookBody = webhookBody
        }

        mutating func ended(_ id: String) {
            endedOrder.append(id)
        }

        /// Records `lease` (new, or a new state of a known one) and keeps the indexes.
        mutating func put(_ lease: LeaseRecord) {
            let old = leases.updateValue(lease, forKey: lease.id)
            if let old { stateCounts[old.state.ordinal] -= 1 }
            stateCounts[lease.state.ordinal] += 1
            if old == nil {
                all.insert(lease.id)
                byPin[lease.pinID, default: LeaseIDIndex()].insert(lease.id)
                byHolder[lease.holder, default: LeaseIDIndex()].insert(lease.id)
            }
            let wasLive = old.map { !$0.state.isEnded } ?? false
            switch (wasLive, !lease.state.isEnded) {
            case (false, true):
                liveByPin[lease.pinID, default: []].insert(lease.id)
                liveCount += 1
            case (true, false):
                unlive(lease)
            default:
                break
            }
        }

        /// Forgets leases (with their places in the indexes).
        mutating func forget(_ ids: [String]) {
            var perPin: [String: Int] = [:]
            var perHolder: [String: Int] = [:]
            for id in ids {
                guard let lease = leases.removeValue(forKey: id) else { continue }
                stateCounts[lease.state.ordinal] -= 1
                if !lease.state.isEnded { unlive(lease) }
                perPin[lease.pinID, default: 0] += 1
                perHolder[lease.holder, default: 0] += 1
            }
            let leases = leases
            let isPresent = { (id: String) in leases[id] != nil }
            all.forget(perPin.values.reduce(0, +), isPresent: isPresent)
            for (pin, count) in perPin {
                byPin[pin]?.forget(count, isPresent: isPresent)
                if byPin[pin]?.count == 0 { byPin[pin] = nil }
            }
            for (holder, count) in perHolder {
                byHolder[holder]?.forget(count, isPresent: isPresent)
                if byHolder[holder]?.count == 0 { byHolder[holder] = nil }
            }
            // A dictionary never gives its storage back: after 100k leases ended at once it would
            // keep room (tens of MiB, every page touched) for 100k. Rebuilt once a quarter full.
            if self.leases.capacity > 4 * max(self.leases.count, Self.leasesKeptRoom) {
                var compacted = [String: LeaseRecord](minimumCapacity: self.leases.count)
                for (id, lease) in self.leases { compacted[id] = lease }
                self.leases = compacted
            }
        }

        /// Room the lease dictionary keeps however few leases there are (not worth rebuilding for).
        static let leasesKeptRoom = 4_096

        private mutating func unlive(_ lease: LeaseRecord) {
            liveByPin[lease.pinID]?.remove(lease.id)
            if liveByPin[lease.pinID]?.isEmpty == true { liveByPin[lease.pinID] = nil }
            liveCount -= 1
        }
    }
}
