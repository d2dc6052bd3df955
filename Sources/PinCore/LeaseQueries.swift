import Synchronization

/// Reads of the book: one lease, lists, live leases; a holder sees only its own leases.
extension LeaseBook {
    func lease(id: String, caller: LeaseCaller) throws(CoreError) -> Lease {
        Lease(record: try visible(id, caller, in: book.withLock { $0.leases[id] }), revealSecret: false)
    }

    /// The leases that match `filter`, in grant order, one page at a time. A pin or holder
    /// filter reads only that pin's or holder's leases; the page starts with a binary search.
    func list(_ filter: LeaseFilter, page: PageRequest = .all, caller: LeaseCaller) -> LeaseList {
        var filter = filter
        if case .holder(let own) = caller {
            guard filter.holder == nil || filter.holder == own else { return LeaseList(leases: []) }
            filter.holder = own
        }
        let (records, more) = book.withLock { book -> ([LeaseRecord], Bool) in
            let index: LeaseIDIndex? =
                if let pinID = filter.pinID { book.byPin[pinID] } else if let holder = filter.holder {
                    book.byHolder[holder]
                } else { book.all }
            guard let index else { return ([], false) }
            let (ids, more) = index.page(
                after: page.after, limit: page.limit,
                include: { id in
                    guard let lease = book.leases[id] else { return false }
                    return (filter.state == nil || lease.state == filter.state)
                        && (filter.holder == nil || lease.holder == filter.holder)
                        && (filter.pinID == nil || lease.pinID == filter.pinID)
                })
            return (ids.compactMap { book.leases[$0] }, more)
        }
        return LeaseList(
            leases: records.map { Lease(record: $0, revealSecret: false) }, next: more ? records.last?.id : nil)
    }

    /// The leases not yet ended on any of `pinIDs` (`nil`: on any pin), in grant order.
    func liveLeases(onPins pinIDs: Set<String>?) -> [LeaseRecord] {
        book.withLock { book in
            let ids =
                pinIDs.map { pins in pins.flatMap { book.liveByPin[$0] ?? [] } } ?? book.liveByPin.values.flatMap { $0 }
            return ids.sorted().compactMap { book.leases[$0] }
        }
    }

    /// How many leases have not ended.
    var liveCount: Int { book.withLock { $0.liveCount } }

    /// How many leases the book holds in each state (every state, 0 when none); ended leases
    /// count until they are forgotten, as in the list.
    var countsByState: [LeaseState: Int] {
        let counts = book.withLock { $0.countByState }
        return Dictionary(uniqueKeysWithValues: LeaseState.allCases.map { ($0, counts[$0] ?? 0) })
    }

    func record(id: String, caller: LeaseCaller) throws(CoreError) -> LeaseRecord {
        try visible(id, caller, in: book.withLock { $0.leases[id] })
    }

    /// What the indexes hold that a scan of every lease disagrees with (empty when consistent;
    /// for tests).
    func indexDiscrepancies() -> [String] {
        book.withLock { book in
            var problems: [String] = []
            let records = book.leases.values.sorted { $0.id < $1.id }
            func present(_ index: LeaseIDIndex?) -> [String] { (index?.allIDs ?? []).filter { book.leases[$0] != nil } }
            if present(book.all) != records.map(\.id) { problems.append("all") }
            if book.all.count != records.count { problems.append("all.count") }
            for (pin, leases) in Dictionary(grouping: records, by: \.pinID)
            where present(book.byPin[pin]) != leases.map(\.id) {
                problems.append("pin \(pin)")
            }
            for (holder, leases) in Dictionary(grouping: records, by: \.holder)
            where present(book.byHolder[holder]) != leases.map(\.id) {
                problems.append("holder \(holder)")
            }
            let live = Dictionary(grouping: records.filter { !$0.state.isEnded }, by: \.pinID).mapValues {
                Set($0.map(\.id))
            }
            if live != book.liveByPin { problems.append("live by pin") }
            if book.liveCount != live.values.reduce(0, { $0 + $1.count }) { problems.append("live count") }
            let byState = Dictionary(grouping: records, by: \.state).mapValues(\.count)
            if book.countByState.filter({ $0.value != 0 }) != byState { problems.append("count by state") }
            if Set(book.byPin.keys) != Set(records.map(\.pinID)) { problems.append("pins without leases kept") }
            if Set(book.byHolder.keys) != Set(records.map(\.holder)) { problems.append("holders without leases kept") }
            return problems
        }
    }

    func visible(_ id: String, _ caller: LeaseCaller, in record: LeaseRecord?) throws(CoreError) -> LeaseRecord {
        guard let record else { throw Self.notFound(id) }
        if case .holder(let holder) = caller, record.holder != holder { throw Self.notFound(id) }
        return record
    }

    static func notFound(_ id: String) -> CoreError {
        CoreError(.leaseNotFound, "no lease has the id '\(id)'", extensions: ["lease_id": .text(id)])
    }
}
