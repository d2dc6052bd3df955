import PinWire

@testable import PinCore

extension LeaseBook.Book {
    /// An empty book that writes webhook bodies as the daemon does (PinWire's event JSON).
    init() {
        self.init(webhookBody: { $0.webhookBody })
    }
}
