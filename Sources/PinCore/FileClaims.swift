import Synchronization

/// The identity of an inode: what the daemon compares, never the path alone.
package struct FileID: Hashable, Sendable {
    package let device: UInt64
    package let inode: UInt64

    package init(
        device: UInt64, inode: UInt64
    ) {
        self.device = device
        self.inode = inode
    }
}

/// At most one mutating operation (prepare, lock, unlock) per inode at a time.
final class FileClaims: Sendable {
    private let claimed = Mutex<Set<FileID>>([])

    /// A claim on one inode, released when it is deallocated.
    final class Claim: Sendable {
        private let owner: FileClaims
        private let id: FileID
        fileprivate init(owner: FileClaims, id: FileID) {
            self.owner = owner
            self.id = id
        }
        deinit { _ = owner.claimed.withLock { $0.remove(id) } }
    }

    func claim(_ id: FileID, path: RootedPath) throws(CoreError) -> Claim {
        let inserted = claimed.withLock { $0.insert(id).inserted }
        guard inserted else {
            throw CoreError(
                .busy, "another prepare, lock or unlock of \(path.canonical) is in progress",
                extensions: ["path": .text(path.canonical)])
        }
        return Claim(owner: self, id: id)
    }
}
