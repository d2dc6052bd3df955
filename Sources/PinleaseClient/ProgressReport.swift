/// The text of a progress report for `done` of `total` bytes after `elapsed` seconds: a bar for a
/// terminal (redrawn in place) or a plain line for logs. Rate and ETA come from the average so far.
public struct ProgressReport: Sendable {
    public let label: String
    public let done: Int64
    public let total: Int64
    public let elapsed: Double

    public init(label: String, done: Int64, total: Int64, elapsed: Double) {
        self.label = label
        self.done = done
        self.total = total
        self.elapsed = elapsed
    }

    /// The fraction done, 0...1 (1 for an empty total).
    public var fraction: Double {
        total > 0 ? min(1, max(0, Double(done) / Double(total))) : 1
    }

    /// Bytes per second so far, nil before any time passed.
    public var rate: Double? { elapsed > 0 ? Double(done) / elapsed : nil }

    /// Seconds left at the average rate, nil while nothing is done.
    public var eta: Double? {
        guard let rate, rate > 0 else { return nil }
        return Double(max(0, total - done)) / rate
    }

    private var numbers: String {
        let percent = Int((fraction * 100).rounded(.down))
        var text = "\(HumanUnits.bytes(done)) / \(HumanUnits.bytes(total)) (\(percent)%)"
        if let rate { text += ", " + HumanUnits.bytes(Int64(rate)) + "/s" }
        text += ", ETA " + (eta.map { HumanUnits.duration(seconds: $0) } ?? "?")
        return text
    }

    /// `LABEL [#########-----------] 1.0 GiB / 2.0 GiB (50%), 300.0 MiB/s, ETA 3s`
    public func bar(width: Int = 24) -> String {
        let filled = Int((fraction * Double(width)).rounded(.down))
        return "\(label) [" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            + "] " + numbers
    }

    /// `LABEL: 1.0 GiB / 2.0 GiB (50%), 300.0 MiB/s, ETA 3s`
    public var line: String { "\(label): " + numbers }
}
