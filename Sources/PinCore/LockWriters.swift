/// Who may write a locked file: nobody (`none`, proven by the kernel read lease), or only the
/// daemon itself through a descriptor it opened read-write before setting the immutable flag
/// (`daemon`, needed for write pins).
public enum LockWriters: String, Sendable, CaseIterable {
    case none
    case daemon
}
