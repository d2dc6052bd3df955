/// A prepare operation as recorded durably.
package struct OperationRecord: Sendable {
    package var id: String
    package var kind: String
    package var path: String
    package var state: OperationState
    package var doneBytes: UInt64
    package var totalBytes: UInt64
    package var createdAt: String
    package var finishedAt: String?
    package var result: OperationResult?
    package var error: CoreError?

    package init(
        id: String, kind: String, path: String, state: OperationState, doneBytes: UInt64, totalBytes: UInt64,
        createdAt: String, finishedAt: String? = nil, result: OperationResult? = nil, error: CoreError? = nil
    ) {
        self.id = id
        self.kind = kind
        self.path = path
        self.state = state
        self.doneBytes = doneBytes
        self.totalBytes = totalBytes
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.result = result
        self.error = error
    }
}
