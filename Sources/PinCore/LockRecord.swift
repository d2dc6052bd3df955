/// A file the daemon has locked, or is in the middle of locking or unlocking, as recorded durably.
package struct LockRecord: Sendable, Equatable {
    package enum Phase: String, Sendable {
        /// The flag may be about to be set: on recovery, undo what the daemon set.
        case locking
        case locked
        /// The flag may be about to be cleared: on recovery, finish clearing.
        case unlocking
    }

    package var path: RootedPath
    package var device: UInt64
    package var inode: UInt64
    package var flagSetByDaemon: Bool
    package var phase: Phase
    package var lockedAt: String
    package var writers: LockWriters = .none
    /// Set once the audit or a lease break found the file changed behind the daemon's back.
    package var violation: FileViolation?

    package init(
        path: RootedPath, device: UInt64, inode: UInt64, flagSetByDaemon: Bool, phase: Phase, lockedAt: String,
        writers: LockWriters = .none, violation: FileViolation? = nil
    ) {
        self.path = path
        self.device = device
        self.inode = inode
        self.flagSetByDaemon = flagSetByDaemon
        self.phase = phase
        self.lockedAt = lockedAt
        self.writers = writers
        self.violation = violation
    }
}
