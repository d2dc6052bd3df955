/// Which page of a list to answer: at most `limit` items, those after the item whose sort key
/// is `after` (the `next` key of the previous page; `nil`: from the start).
public struct PageRequest: Sendable, Equatable {
    public var limit: Int
    public var after: String?

    public init(limit: Int, after: String? = nil) {
        self.limit = max(0, limit)
        self.after = after
    }

    /// The whole list in one page.
    public static let all = PageRequest(limit: .max)

    /// The page of `items` (sorted by `key`, ascending and unique) and the key to continue
    /// after, when more follow.
    func slice<Item>(_ items: [Item], key: (Item) -> String) -> (items: [Item], next: String?) {
        var low = 0
        if let after {
            var high = items.count
            while low < high {
                let middle = (low + high) / 2
                if key(items[middle]) <= after { low = middle + 1 } else { high = middle }
            }
        }
        let end = limit >= items.count - low ? items.count : low + limit
        let page = Array(items[low..<end])
        return (page, end < items.count ? page.last.map(key) : nil)
    }
}
