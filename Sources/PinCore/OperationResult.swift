/// What a finished operation produced, by kind of operation.
public enum OperationResult: Sendable, Equatable {
    /// A `prepare` operation: the (ready) layout report of the prepared file.
    case prepared(LayoutReport)
}
