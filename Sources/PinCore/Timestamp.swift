import Foundation

/// RFC 3339 UTC timestamps with second precision, as the API uses them.
enum Timestamp {
    static func now() -> String { format(Date()) }

    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!))
    }
}
