/// The files ``FileLocker`` tracks, by path and by inode, with how many are in each state.
/// Kept under the locker's lock and changed only through ``set(_:at:)`` and
/// ``markViolated(_:_:)``, so `GET /v1/status` reads the counts in O(1) and a pin or grant
/// finds the lock of an inode without visiting every locked file.
struct LockedFileIndex: Sendable {
    private(set) var byPath: [RootedPath: LockedFile] = [:]
    /// The paths tracked for each inode: one, unless records of two paths name the same inode
    /// (possible only for degraded locks recovered from records).
    private var pathsByFile: [FileID: [RootedPath]] = [:]
    /// Tracked files in each state, indexed by ``TrackedFileState/ordinal``.
    private var counts = [Int](repeating: 0, count: TrackedFileState.allCases.count)

    /// How many tracked files are in each state (every state, 0 when none).
    var countsByState: [TrackedFileState: Int] {
        Dictionary(uniqueKeysWithValues: TrackedFileState.allCases.map { ($0, counts[$0.ordinal]) })
    }

    subscript(path: RootedPath) -> LockedFile? { byPath[path] }

    /// A file tracked for inode `fileID` (any of them, should there be several).
    func file(_ fileID: FileID) -> LockedFile? {
        pathsByFile[fileID]?.first.flatMap { byPath[$0] }
    }

    /// Tracks `file` at `path` (replacing what was there), or stops tracking `path` (`nil`).
    mutating func set(_ file: LockedFile?, at path: RootedPath) {
        let old = byPath[path]
        if let old {
            counts[old.state.ordinal] -= 1
            pathsByFile[old.fileID]?.removeAll { $0 == path }
            if pathsByFile[old.fileID]?.isEmpty == true { pathsByFile[old.fileID] = nil }
        }
        byPath[path] = file
        if let file {
            counts[file.state.ordinal] += 1
            pathsByFile[file.fileID, default: []].append(path)
        }
    }

    /// Records `violation` on tracked `file` (``LockedFile/markViolated(_:)``) and moves it to
    /// its new state in the counts; returns whether this violation was its first.
    mutating func markViolated(_ file: LockedFile, _ violation: FileViolation) -> Bool {
        let before = file.state
        guard file.markViolated(violation) else { return false }
        counts[before.ordinal] -= 1
        counts[file.state.ordinal] += 1
        return true
    }
}

extension TrackedFileState {
    /// The position of the state in `allCases`.
    var ordinal: Int {
        switch self {
        case .locked: 0
        case .degraded: 1
        case .violated: 2
        }
    }
}
