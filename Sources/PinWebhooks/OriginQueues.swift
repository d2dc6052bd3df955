/// Fair admission of webhook attempts across receivers: one FIFO queue per origin (scheme,
/// host and port), at most `perOrigin` attempts in flight per origin, and origins take turns
/// (round robin), so a receiver that hangs with hundreds of messages queued holds at most
/// `perOrigin` of the sender's transfers and never delays the first message to another origin.
/// Used only on the ``WebhookSender``'s thread.
struct OriginQueues {
    private struct Queue {
        var ready: [String] = []
        var head = 0
        var inFlight = 0

        var hasReady: Bool { head < ready.count }

        mutating func pop() -> String {
            let id = ready[head]
            head += 1
            if head >= 64 && head * 2 >= ready.count {  // compact now and then, not on every pop
                ready.removeFirst(head)
                head = 0
            }
            return id
        }
    }

    /// The most attempts in flight per origin (at least 1).
    let perOrigin: Int
    private var queues: [String: Queue] = [:]
    /// Origins that have a ready attempt and room for it, in turn order; each at most once.
    private var turns: [String] = []
    private var turnsHead = 0

    init(perOrigin: Int) {
        self.perOrigin = max(1, perOrigin)
    }

    // The queues are changed in place (`queues[origin]!...`): a copy taken out of the
    // dictionary would copy its whole array on the first write, for every attempt.

    /// Queues attempt `id` behind the other ready attempts of `origin`.
    mutating func enqueue(_ id: String, origin: String) {
        let (hadReady, inFlight) = queues[origin].map { ($0.hasReady, $0.inFlight) } ?? (false, 0)
        queues[origin, default: Queue()].ready.append(id)
        if !hadReady && inFlight < perOrigin { takeTurn(origin) }
    }

    /// The next attempt to start (counted in flight for its origin until ``finished(origin:)``):
    /// from the origin whose turn it is; `nil` when no origin has both a ready attempt and room.
    mutating func next() -> (id: String, origin: String)? {
        guard turnsHead < turns.count else { return nil }
        let origin = turns[turnsHead]
        turnsHead += 1
        if turnsHead >= 64 && turnsHead * 2 >= turns.count {
            turns.removeFirst(turnsHead)
            turnsHead = 0
        }
        guard queues[origin]?.hasReady == true else { return next() }
        let id = queues[origin]!.pop()
        queues[origin]!.inFlight += 1
        if queues[origin]!.hasReady && queues[origin]!.inFlight < perOrigin { takeTurn(origin) }
        return (id, origin)
    }

    /// An attempt ``next()`` returned for `origin` ended (or was never started).
    mutating func finished(origin: String) {
        guard let inFlight = queues[origin]?.inFlight, inFlight > 0 else { return }
        queues[origin]!.inFlight -= 1
        let hasReady = queues[origin]!.hasReady
        if !hasReady && inFlight == 1 {
            queues[origin] = nil
        } else if hasReady && inFlight == perOrigin {
            takeTurn(origin)  // it had no turn while full
        }
    }

    /// Attempts of `origin` in flight.
    func inFlight(origin: String) -> Int { queues[origin]?.inFlight ?? 0 }

    /// Attempts of `origin` waiting for room.
    func readyCount(origin: String) -> Int { queues[origin].map { $0.ready.count - $0.head } ?? 0 }

    private mutating func takeTurn(_ origin: String) {
        turns.append(origin)
    }

    /// The origin of a URL: lowercased scheme and host, and the port (the scheme's default when
    /// none is given). User info, path, query and fragment are not part of it.
    static func origin(of url: String) -> String {
        guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { return url.lowercased() }
        let scheme = url[..<colon].lowercased()
        var authority = url[url.index(colon, offsetBy: 3)...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var host = Substring(authority)
        var port: Substring?
        if authority.hasPrefix("[") {  // [IPv6]:port
            if let close = authority.firstIndex(of: "]") {
                host = authority[...close]
                let rest = authority[authority.index(after: close)...]
                if rest.hasPrefix(":") { port = rest.dropFirst() }
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        }
        let defaultPort = scheme == "https" ? "443" : scheme == "http" ? "80" : ""
        let effectivePort = port.flatMap { $0.isEmpty ? nil : String($0) } ?? defaultPort
        return "\(scheme)://\(host.lowercased()):\(effectivePort)"
    }
}
