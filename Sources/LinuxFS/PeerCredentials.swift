/// The process on the other end of a Unix socket, as the kernel recorded it when that process
/// called `connect(2)` (or `socketpair(2)`): it does not change if the peer later changes its
/// ids or passes the socket on.
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    /// The peer's process id in this process's pid namespace; 0 when it is not visible there.
    public let pid: Int32
    /// The peer's effective user id.
    public let uid: UInt32
    /// The peer's effective group id.
    public let gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// `pid 123 uid 1000 gid 1000`.
    public var description: String { "pid \(pid) uid \(uid) gid \(gid)" }
}
