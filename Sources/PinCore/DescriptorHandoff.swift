import LinuxFS

/// A lease holder asking, over the hand-off socket, for a descriptor of its leased file (which
/// it cannot open itself once the file is immutable). The token is already authenticated.
public struct DescriptorHandoffRequest: Sendable {
    public let leaseID: String
    /// The holder name bound to the presented token; `nil` for an admin token.
    public let holder: String?
    /// The connecting process, from `SO_PEERCRED`.
    public let peer: PeerCredentials

    public init(leaseID: String, holder: String?, peer: PeerCredentials) {
        self.leaseID = leaseID
        self.holder = holder
        self.peer = peer
    }
}

/// A descriptor granted to a lease holder, and what the reply tells the holder about it.
public struct HandedOffDescriptor: Sendable {
    /// The open file to send. The daemon keeps ownership: the transport sends a duplicate
    /// (`SCM_RIGHTS`) and never closes this one.
    public let descriptor: OpenFile
    /// `write`: the descriptor is open `O_RDWR`; `read`: `O_RDONLY`.
    public let access: PinAccess
    /// The file's path as the API names it (`root:relative`).
    public let path: String
    /// The leased range.
    public let offset: UInt64
    public let length: UInt64
    public let leaseID: String
    public let pinID: String

    public init(
        descriptor: OpenFile, access: PinAccess, path: String, offset: UInt64, length: UInt64, leaseID: String,
        pinID: String
    ) {
        self.descriptor = descriptor
        self.access = access
        self.path = path
        self.offset = offset
        self.length = length
        self.leaseID = leaseID
        self.pinID = pinID
    }
}

extension PinCoreService {
    /// Checks a hand-off request against the lease it names and returns the descriptor to send:
    /// the lease must be active and the caller's own (a holder token; an admin may fetch any),
    /// the peer's uid must match the lease's `holder_uid` when it has one, and its pin must be
    /// active on a file that is still locked and not violated. A write pin hands over the
    /// daemon's read-write descriptor (opened before the flag was set; nobody can open one
    /// now); a read pin a new read-only open of the locked inode, so the holder never shares
    /// the descriptor that carries the daemon's kernel lease.
    public func handOffDescriptor(_ request: DescriptorHandoffRequest) throws(CoreError) -> HandedOffDescriptor {
        let lease = try leases.record(id: request.leaseID, caller: request.holder.map { .holder($0) } ?? .admin)
        let leaseExtension: ErrorExtensions = ["lease_id": .text(lease.id)]
        guard lease.state == .active else {
            throw CoreError(
                .leaseNotActive, "lease \(lease.id) is \(lease.state.rawValue); descriptors go to active leases only",
                extensions: ["lease_id": .text(lease.id), "state": .text(lease.state.rawValue)])
        }
        // SO_PEERCRED: the lease's holder_uid, or else the daemon's own uid (a lease granted
        // without holder_uid is for processes of the daemon's user, typically root).
        let allowedUID = lease.holderUID ?? CurrentProcess.userID
        guard request.peer.uid == allowedUID else {
            let whose = lease.holderUID == nil ? " (the daemon's; grant it with holder_uid for another)" : ""
            throw CoreError(
                .peerNotAllowed,
                "lease \(lease.id) hands its descriptor to uid \(allowedUID)\(whose); "
                    + "the connecting process (pid \(request.peer.pid)) runs as uid \(request.peer.uid)",
                extensions: leaseExtension)
        }
        guard let pin = pins.record(of: lease.pinID), pins.isActive(pin.id) else {
            throw CoreError(
                .pinNotActive, "the pin \(lease.pinID) of lease \(lease.id) holds nothing", extensions: leaseExtension)
        }
        guard let locked = locker.lockedFile(device: pin.file.device, inode: pin.file.inode), let handle = locked.handle
        else {
            throw CoreError(
                .notLocked, "\(pin.path.canonical) is no longer locked by the daemon",
                extensions: ["path": .text(pin.path.canonical)])
        }
        if let violation = locked.violation { throw Pinner.violatedError(violation, path: locked.path.canonical) }
        let descriptor: OpenFile
        switch pin.access {
        case .write:
            guard let writable = locked.writableHandle else {
                throw CoreError(
                    .writeNeedsDaemonWriters, "the daemon holds no read-write descriptor of \(locked.path.canonical)")
            }
            descriptor = writable
        case .read:
            do throws(LinuxError) {
                descriptor = try handle.reopen(flags: .readOnly)
            } catch {
                throw CoreError.from(error, path: locked.path.canonical)
            }
        }
        return HandedOffDescriptor(
            descriptor: descriptor, access: pin.access, path: locked.path.canonical, offset: pin.offset,
            length: pin.length,
            leaseID: lease.id, pinID: pin.id)
    }
}
