import PinServer
import ServiceLifecycle
import Synchronization

/// Calls `whenAllServe` once, when the last of `listeners` listeners reported that it serves
/// (the HTTP server and, with `--unix`, the descriptor hand-off): the daemon's `READY=1`.
final class ReadinessGate: Sendable {
    private let waitingFor: Mutex<Int>
    private let whenAllServe: @Sendable () -> Void

    init(listeners: Int, whenAllServe: @escaping @Sendable () -> Void) {
        waitingFor = Mutex(listeners)
        self.whenAllServe = whenAllServe
    }

    /// One listener serves.
    func serving() {
        let last = waitingFor.withLock { count in
            count -= 1
            return count == 0
        }
        if last { whenAllServe() }
    }
}

/// A listener service (its `run(whenServing:)`) that reports to `gate` once it serves.
struct ReportingListener: Service, CustomStringConvertible {
    let description: String
    let gate: ReadinessGate
    let serve: @Sendable (_ whenServing: @Sendable () -> Void) async throws -> Void

    func run() async throws {
        try await serve { [gate] in gate.serving() }
    }
}

extension ReportingListener {
    /// The HTTP server and the descriptor hand-off (if any), as services that tell `link`
    /// `READY=1` once both serve.
    static func listeners(server: PinHTTPServer, handoff: DescriptorHandoffListener?, link: ServiceManagerLink)
        -> [any Service]
    {
        let gate = ReadinessGate(listeners: handoff == nil ? 1 : 2) {
            link.ready(serving: server.listeningAddresses + (handoff.map { ["unix:\($0.path) (descriptors)"] } ?? []))
        }
        let http = ReportingListener(description: "PinHTTPServer", gate: gate, serve: server.run(whenServing:))
        guard let handoff else { return [http] }
        return [
            http,
            ReportingListener(description: "DescriptorHandoffListener", gate: gate, serve: handoff.run(whenServing:)),
        ]
    }
}
