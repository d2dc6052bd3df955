import Synchronization

@testable import PinCore

/// A ``WebhookTransport`` that sends nothing: it records each call, and the test reports
/// attempts and outcomes through ``reports`` as a real transport would.
final class RecordingWebhookTransport: WebhookTransport {
    /// One call: `"send <id>"`, `"redeliver <id>"` or `"cancel <lease> [<types>]"`.
    struct Call: Sendable {
        var id: String
        var message: WebhookMessage?
    }

    let calls = Mutex<[Call]>([])
    private let reportsState = Mutex<WebhookDeliveryReports?>(nil)

    /// Where the notifier wants reports (set by ``factory``).
    var reports: WebhookDeliveryReports? { reportsState.withLock { $0 } }

    /// The factory a ``LeaseNotifier`` calls: it hands the notifier this transport.
    var factory: WebhookTransportFactory {
        { [self] _, _, reports in
            reportsState.withLock { $0 = reports }
            return self
        }
    }

    /// The ids of the calls so far.
    var callIDs: [String] { calls.withLock { $0.map(\.id) } }

    func send(_ message: WebhookMessage) {
        calls.withLock { $0.append(Call(id: "send \(message.id)", message: message)) }
    }

    func redeliver(_ message: WebhookMessage) {
        calls.withLock { $0.append(Call(id: "redeliver \(message.id)", message: message)) }
    }

    func cancel(leaseID: String, eventTypes: Set<EventType>?) {
        let types = (eventTypes ?? []).map(\.rawValue).sorted().joined(separator: ", ")
        calls.withLock { $0.append(Call(id: "cancel \(leaseID) [\(types)]", message: nil)) }
    }

    var pendingCount: Int { 0 }

    func shutdown() {}

    func run() async throws {}
}
