import PinCore

/// A write (or barrier) queued on a ``GroupCommit``, as the domain waits for it.
struct GroupCommitTicket: CommitTicket {
    let commits: GroupCommit
    let ticket: GroupCommit.Ticket

    func wait() throws(CoreError) {
        try commits.wait(ticket)
    }
}
