import LinuxFS

/// Why a file with more than one name is refused: openat2 confines the *name* the daemon
/// looks up to its root, not the inode behind it. A hard link made inside a root to a file
/// outside it (same filesystem) would let prepare zero, lock flag and pin that outside file.
/// A file is acted on only while its link count is 1 and that one name is the one in the root.
enum HardLinkCheck {
    /// The `hard-linked` error (409) naming the link count.
    static func error(path: RootedPath, links: UInt32) -> CoreError {
        CoreError(
            .hardLinked,
            "\(path.canonical) has \(links) hard links; the daemon acts only on a file whose one name is in its root "
                + "(a hard link may name a file outside the root): remove the other links, or copy the file",
            extensions: ["path": .text(path.canonical), "links": .integer(Int64(links))])
    }

    /// The not-ready reason an inspection reports for a file with `links` names (nil for one).
    static func reason(links: UInt32) -> NotReadyReason? {
        guard links != 1 else { return nil }
        return NotReadyReason(
            code: "hard-linked",
            detail: links == 0
                ? "the file has no name any more (it was removed)"
                : "the file has \(links) hard links; prepare, lock and pin refuse it",
            bytes: nil)
    }
}

extension Roots {
    /// Returns the status of `file` (opened at `path`) once it is proven that the file has
    /// exactly one name and that `path` is it: its link count is 1, `path` still names this
    /// inode, and the count is still 1 after that lookup. A link count read before the
    /// lookup alone is not enough: the name in the root may have been removed after the open,
    /// leaving one name elsewhere; a lookup alone is not enough either.
    /// - Throws: `hard-linked` (409) with the count, `file-changed` when `path` names another
    ///   inode now, or the lookup's error.
    func requireOnlyName(_ file: OpenFile, path: RootedPath) throws(CoreError) -> FileStatus {
        let before = try Self.status(of: file, path: path)
        if before.links > 1 { throw HardLinkCheck.error(path: path, links: before.links) }
        let named = try open(path, flags: .pathOnly).status
        guard named.device == before.device, named.inode == before.inode else {
            throw CoreError(
                .fileChanged, "\(path.canonical) was replaced or removed while it was being opened",
                extensions: ["path": .text(path.canonical)])
        }
        let after = try Self.status(of: file, path: path)
        guard after.links == 1 else { throw HardLinkCheck.error(path: path, links: after.links) }
        return after
    }

    private static func status(of file: OpenFile, path: RootedPath) throws(CoreError) -> FileStatus {
        do throws(LinuxError) {
            return try file.status()
        } catch {
            throw CoreError.from(error, path: path.canonical)
        }
    }
}
