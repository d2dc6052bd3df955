import PinCore
import PinJSON

/// The paging arguments of a list (`?limit=&cursor=`) and the `next_cursor` of its answer.
///
/// A cursor is opaque to clients: base64url of the list's name and the sort key of the last
/// item of the page it came with. A cursor of another list, or one that is not base64url of
/// such a text, is refused (422 `invalid-query`).
struct PageQuery {
    /// Items per page without `limit`.
    static let defaultLimit = 1000
    /// The largest `limit`.
    static let maxLimit = 10_000
    /// The query parameters a paged list reads.
    static let parameters = ["limit", "cursor"]

    let page: PageRequest

    /// Reads `limit` and `cursor` of `request`, for the list called `list`.
    static func decode(_ request: HTTPRequest, list: String) throws(Problem) -> PageQuery {
        var limit = defaultLimit
        if let text = request.query["limit"] {
            guard text.utf8.count <= 6, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(text),
                (1...maxLimit).contains(value)
            else {
                throw Problem(
                    .invalidQuery, "limit must be an integer from 1 to \(maxLimit), not \(text.debugDescription).",
                    extensions: ["parameter": "limit", "max_limit": .int(Int64(maxLimit))])
            }
            limit = value
        }
        var after: String?
        if let text = request.query["cursor"] {
            guard let bytes = Base64URL.decode(text), let key = String(validating: bytes, as: UTF8.self),
                key.hasPrefix(list + ":"), key.utf8.count > list.utf8.count + 1
            else {
                throw Problem(
                    .invalidQuery,
                    "cursor is not one that this list (\(list)) answered; pass next_cursor as it was given.",
                    extensions: ["parameter": "cursor"])
            }
            after = String(key.dropFirst(list.count + 1))
        }
        return PageQuery(page: PageRequest(limit: limit, after: after))
    }

    /// Refuses query parameters other than the paging ones and `others`.
    static func rejectUnknown(_ request: HTTPRequest, others: [String] = []) throws(Problem) {
        let known = parameters + others
        if let unknown = request.query.keys.sorted().first(where: { !known.contains($0) }) {
            throw Problem(
                .invalidQuery, "Unknown query parameter \"\(unknown)\"; use \(known.joined(separator: ", ")).",
                extensions: ["parameter": .string(unknown)])
        }
    }

    /// The cursor for the page after the one ending at sort key `next` of list `list`.
    static func cursor(list: String, next: String) -> String {
        Base64URL.encode(Array((list + ":" + next).utf8))
    }

    /// `object` (an answer's JSON object) with `next_cursor` added when more items follow.
    static func paged(_ json: JSON, list: String, next: String?) -> JSON {
        guard case .object(var object) = json, let next else { return json }
        object["next_cursor"] = .string(cursor(list: list, next: next))
        return .object(object)
    }
}
