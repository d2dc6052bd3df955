/// Lease ids in ascending order, which is grant order (lease ids begin with their grant time,
/// see ``RandomID/makeOrdered(prefix:milliseconds:)``), for paging through leases from a cursor
/// without looking at the ones before it.
///
/// Costs do not grow with the number of leases: a new id is nearly always the greatest and is
/// appended (otherwise it is inserted after a binary search, a few places from the end); a
/// page starts with a binary search. Forgetting is lazy: forgotten ids stay until they make up
/// half of the index, then one pass drops them (amortised O(1) per forgotten id), so readers
/// must skip ids that are no longer in the book.
struct LeaseIDIndex: Sendable, Equatable {
    private var ids: [String] = []
    /// How many of `ids` were forgotten and not dropped yet.
    private var forgotten = 0

    /// The ids not forgotten.
    var count: Int { ids.count - forgotten }

    mutating func insert(_ id: String) {
        guard let last = ids.last, id <= last else {
            ids.append(id)
            return
        }
        let index = firstIndex(after: id, orEqual: true)
        if index < ids.count && ids[index] == id { return }
        ids.insert(id, at: index)
    }

    /// Records that `count` ids were forgotten (they are no longer `isPresent`); drops them all
    /// once they are half of the index.
    mutating func forget(_ count: Int, isPresent: (String) -> Bool) {
        forgotten += count
        guard forgotten > 0, forgotten * 2 >= ids.count else { return }
        ids.removeAll { !isPresent($0) }
        forgotten = 0
    }

    /// At most `limit` ids greater than `after` (all, without it) that `include` accepts, in
    /// order, and whether another accepted id follows them.
    func page(after: String?, limit: Int, include: (String) -> Bool) -> (ids: [String], more: Bool) {
        var result: [String] = []
        var index = after.map { firstIndex(after: $0, orEqual: false) } ?? 0
        while index < ids.count {
            let id = ids[index]
            index += 1
            guard include(id) else { continue }
            if result.count == limit { return (result, true) }
            result.append(id)
        }
        return (result, false)
    }

    /// Every id, forgotten ones included (for checks).
    var allIDs: [String] { ids }

    /// The index of the first id greater than (or equal to, with `orEqual`) `id`.
    private func firstIndex(after id: String, orEqual: Bool) -> Int {
        var low = 0
        var high = ids.count
        while low < high {
            let middle = (low + high) / 2
            if ids[middle] < id || (!orEqual && ids[middle] == id) { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
