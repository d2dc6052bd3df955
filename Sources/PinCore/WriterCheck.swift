import LinuxFS

/// Proof that no process has a file open for writing or mapped writable: a kernel read lease
/// can only be taken when no such open exists.
enum WriterCheck {
    /// Takes and at once releases a read lease on `file` (a read-only descriptor, with no
    /// writable descriptor of the daemon's own open). Where leases are not supported it falls
    /// back to scanning /proc.
    static func requireNone(_ file: OpenFile, status: FileStatus, path: RootedPath) throws(CoreError) {
        do throws(LinuxError) {
            try file.setLeaseSignal(LeaseBreakSignal.number)
            try file.setLease(.read)
            try file.setLease(.none)
            return
        } catch  where error.code == .resourceTemporarilyUnavailable {
            throw writersPresent(path: path, status: status)
        } catch {
            // No leases on this filesystem: /proc is the only evidence.
            let pids = processesWithWriteAccess(device: status.device, inode: status.inode)
            if !pids.isEmpty { throw writersPresent(path: path, status: status, pids: pids) }
        }
    }

    /// The `writers-present` error, naming the pids /proc shows with write access.
    static func writersPresent(path: RootedPath, status: FileStatus, pids known: [Int32]? = nil) -> CoreError {
        let pids = known ?? processesWithWriteAccess(device: status.device, inode: status.inode)
        let who =
            pids.isEmpty ? "a process this daemon cannot see" : "pids " + pids.map(String.init).joined(separator: ", ")
        return CoreError(
            .writersPresent, "\(path.canonical) is open for writing or mapped writable by \(who)",
            extensions: ["path": .text(path.canonical), "pids": .integers(pids)])
    }
}
