/// The state of a file the daemon tracks: its `state` in `GET /v1/files`, its key in
/// `GET /v1/status` and its `state` label on `pinlease_locked_files` (the raw values are the
/// wire strings).
public enum TrackedFileState: String, CaseIterable, Sendable {
    /// Locked as asked: nothing changed behind the daemon's back.
    case locked
    /// The lock could not be re-established (after a restart or a lease break).
    case degraded
    /// Changed behind the daemon's back.
    case violated
}
