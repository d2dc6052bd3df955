import PinleaseClient

/// How progress goes to stderr: a bar redrawn in place on a terminal, a plain line at most every
/// `lineInterval` seconds otherwise (logs, CI), or nothing (`--no-progress`).
enum ProgressStyle {
    case bar
    case lines
    case none

    /// Seconds between plain progress lines.
    static let lineInterval = 2.0

    static func choose(disabled: Bool) -> ProgressStyle {
        if disabled { return .none }
        return Terminal.stderrIsTerminal ? .bar : .lines
    }

    /// Seconds between polls of the operation.
    var pollInterval: Double { self == .bar ? 0.25 : 0.5 }

    /// A line announcing the start (also in `.lines` mode, so logs show which operation runs).
    func started(_ text: String) {
        guard self != .none else { return }
        Console.err(text)
    }

    /// Shows `report`; `final` ends a bar with a newline.
    func show(_ report: ProgressReport, final: Bool) {
        switch self {
        case .bar:
            Console.err(raw: "\r" + report.bar() + "\u{1B}[K" + (final ? "\n" : ""))
        case .lines:
            Console.err(report.line)
        case .none:
            return
        }
    }
}
