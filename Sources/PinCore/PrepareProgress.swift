import Synchronization

/// Progress of a running prepare, readable from any thread, and its cancellation flag.
public final class PrepareProgress: Sendable {
    private let done = Atomic<UInt64>(0)
    private let total = Atomic<UInt64>(0)
    private let cancelRequested = Atomic<Bool>(false)

    public init() {}

    public var doneBytes: UInt64 { done.load(ordering: .relaxed) }
    public var totalBytes: UInt64 { total.load(ordering: .relaxed) }
    public var isCancelled: Bool { cancelRequested.load(ordering: .relaxed) }

    /// Asks the prepare to stop at its next chunk boundary; bytes already written stay written.
    public func cancel() { cancelRequested.store(true, ordering: .relaxed) }

    func setTotal(_ bytes: UInt64) { total.store(bytes, ordering: .relaxed) }
    func advance(by bytes: UInt64) { done.add(bytes, ordering: .relaxed) }

    func checkCancelled() throws(CoreError) {
        if isCancelled {
            throw CoreError(.cancelled, "the prepare was cancelled; ranges already filled hold written zeroes")
        }
    }
}
