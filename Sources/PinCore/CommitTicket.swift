/// A write queued on a ``LeaseJournal`` (or a barrier behind such writes), to wait for outside
/// the lock that ordered it.
package protocol CommitTicket: Sendable {
    /// Returns once the write is durable (for a barrier: once every write queued before it is),
    /// possibly committing it and whatever else is pending on the caller's thread.
    /// - Throws: the error of this write, or of the commit that carried it (then it was not written).
    func wait() throws(CoreError)
}
