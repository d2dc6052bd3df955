/// A min-heap of attempt times (ties in the order they were scheduled).
struct AttemptHeap {
    struct Entry {
        let time: Double
        let token: UInt64
        let messageID: String
    }

    private var entries: [Entry] = []

    var first: Entry? { entries.first }

    private func precedes(_ a: Int, _ b: Int) -> Bool {
        (entries[a].time, entries[a].token) < (entries[b].time, entries[b].token)
    }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0, precedes(child, (child - 1) / 2) {
            entries.swapAt(child, (child - 1) / 2)
            child = (child - 1) / 2
        }
    }

    mutating func removeFirst() {
        entries.swapAt(0, entries.count - 1)
        entries.removeLast()
        var parent = 0
        while true {
            var smallest = parent
            for child in [2 * parent + 1, 2 * parent + 2] where child < entries.count && precedes(child, smallest) {
                smallest = child
            }
            if smallest == parent { return }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
