import LinuxFS

/// The configured roots, each held open as a directory descriptor, and the only way the core
/// turns a user path into an open file: openat2 confined beneath the root, no symlinks, no
/// magic links, no mount crossings, and only regular files.
final class Roots: Sendable {
    private struct Root: Sendable {
        let spec: RootSpec
        let directory: OpenFile
    }

    private let roots: [Root]
    static let maximumPathLength = 4095

    init(_ specs: [RootSpec]) throws(CoreError) {
        guard !specs.isEmpty else { throw CoreError(.invalidPath, "at least one root is required") }
        var opened: [Root] = []
        for spec in specs {
            if opened.contains(where: { $0.spec.name == spec.name }) {
                throw CoreError(.invalidPath, "root name '\(spec.name)' is used twice; name roots with NAME=PATH")
            }
            do throws(LinuxError) {
                opened.append(Root(spec: spec, directory: try openDirectory(spec.path)))
            } catch {
                throw CoreError(.notFound, "root '\(spec.name)' at \(spec.path) cannot be opened: \(error.message)")
            }
        }
        roots = opened
    }

    var specs: [RootSpec] { roots.map(\.spec) }

    /// Why each root that is no longer usable is not: its path does not open as a directory, opens
    /// another directory than the one held open since start-up (unmounted or replaced under the
    /// daemon: new paths would resolve elsewhere), or is not readable, writable and searchable.
    func unusable() -> [String] {
        roots.compactMap { root -> String? in
            let spec = root.spec
            do throws(LinuxError) {
                let now = try openDirectory(spec.path).status()
                let held = try root.directory.status()
                guard now.device == held.device, now.inode == held.inode else {
                    return "root '\(spec.name)' at \(spec.path) is no longer the directory the daemon opened "
                        + "(unmounted or replaced)"
                }
                try checkAccess(spec.path, [.read, .write, .execute])
                return nil
            } catch {
                return "root '\(spec.name)' at \(spec.path) is not accessible: \(error.message)"
            }
        }
    }

    /// Validates `path` lexically and names its root. `"a.bin"` is in the first root,
    /// `"NAME:a.bin"` in root NAME; a path whose first component holds ':' must name a root.
    func resolve(_ path: String) throws(CoreError) -> RootedPath {
        let extensions: ErrorExtensions = ["path": .text(path)]
        guard !path.isEmpty else { throw CoreError(.invalidPath, "the path is empty", extensions: extensions) }
        guard !path.utf8.contains(0), path.utf8.count <= Self.maximumPathLength else {
            throw CoreError(
                .invalidPath, "the path holds a NUL byte or is longer than \(Self.maximumPathLength) bytes",
                extensions: extensions)
        }
        var rootName = roots[0].spec.name
        var relative = Substring(path)
        let firstComponent = path.prefix { $0 != "/" }
        if let colon = firstComponent.firstIndex(of: ":") {
            rootName = String(path[..<colon])
            relative = path[path.index(after: colon)...]
            guard roots.contains(where: { $0.spec.name == rootName }) else {
                throw CoreError(
                    .unknownRoot,
                    "no root is named '\(rootName)' (roots: \(roots.map(\.spec.name).joined(separator: ", ")))",
                    extensions: extensions)
            }
        }
        guard !relative.hasPrefix("/") else {
            throw CoreError(
                .absolutePath, "'\(path)' is absolute; paths are relative to a root", extensions: extensions)
        }
        let components = relative.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.contains("..") else {
            throw CoreError(
                .pathTraversal, "'\(path)' contains '..'; paths must stay beneath their root", extensions: extensions)
        }
        let normalized = components.filter { $0 != "." }.joined(separator: "/")
        guard !normalized.isEmpty else {
            throw CoreError(.isADirectory, "'\(path)' names the root directory itself", extensions: extensions)
        }
        return RootedPath(root: rootName, relative: normalized)
    }

    /// Opens the regular file at `path` with `flags`, confined to its root. Non-regular files
    /// are refused before any open with side effects: the file is first opened `O_PATH`, its
    /// type checked, then reopened and checked to be the same inode.
    func open(_ path: RootedPath, flags: OpenFlags) throws(CoreError) -> (file: OpenFile, status: FileStatus) {
        let directory = roots.first { $0.spec.name == path.root }!.directory
        do {
            let probe = try openBeneath(directory, path.relative, flags: .pathOnly)
            let probeStatus = try probe.status()
            try Self.requireRegular(probeStatus, path: path)
            if flags == .pathOnly { return (probe, probeStatus) }
            let file = try openBeneath(directory, path.relative, flags: flags.union(.nonBlocking))
            let status = try file.status()
            guard status.device == probeStatus.device, status.inode == probeStatus.inode else {
                throw CoreError(
                    .fileChanged, "\(path.canonical) was replaced while it was being opened",
                    extensions: ["path": .text(path.canonical)])
            }
            return (file, status)
        } catch let error as CoreError {
            throw error
        } catch let error as LinuxError {
            throw CoreError.from(error, path: path.canonical)
        } catch {
            throw CoreError(.systemError, "\(path.canonical): \(error)")
        }
    }

    /// The status of what `path` names now, in one `statx` with no descriptor, when `path` is a
    /// single name in its root (nothing to resolve but that entry, which is not followed);
    /// `nil` otherwise or on any error: the caller then uses ``open(_:flags:)``.
    func entryStatus(_ path: RootedPath) -> FileStatus? {
        guard !path.relative.contains("/") else { return nil }
        return try? directory(of: path).status(ofEntry: path.relative)
    }

    /// The directory descriptor of the root `path` is in (on the same mount as the file, as
    /// every open refuses to cross mounts).
    func directory(of path: RootedPath) -> OpenFile {
        roots.first { $0.spec.name == path.root }!.directory
    }

    /// Creates the regular file at `path` if it does not exist. Returns whether it created it.
    func createIfMissing(_ path: RootedPath) throws(CoreError) -> Bool {
        let directory = roots.first { $0.spec.name == path.root }!.directory
        do throws(LinuxError) {
            _ = try openBeneath(directory, path.relative, flags: [.create, .exclusive, .writeOnly], mode: 0o644)
            return true
        } catch  where error.code == .fileExists {
            return false
        } catch {
            throw CoreError.from(error, path: path.canonical)
        }
    }

    /// Removes the file at `path` (used only for a file the daemon itself just created).
    func remove(_ path: RootedPath) {
        let directory = roots.first { $0.spec.name == path.root }!.directory
        try? removeBeneath(directory, path.relative)
    }

    private static func requireRegular(_ status: FileStatus, path: RootedPath) throws(CoreError) {
        let extensions: ErrorExtensions = ["path": .text(path.canonical), "file_type": .text(status.kind.rawValue)]
        switch status.kind {
        case .regular: return
        case .directory:
            throw CoreError(
                .isADirectory, "\(path.canonical) is a directory, not a regular file", extensions: extensions)
        case .characterDevice, .blockDevice:
            throw CoreError(
                .isADevice, "\(path.canonical) is a device node, not a regular file", extensions: extensions)
        case .fifo: throw CoreError(.isAFifo, "\(path.canonical) is a FIFO, not a regular file", extensions: extensions)
        case .socket:
            throw CoreError(.isASocket, "\(path.canonical) is a socket, not a regular file", extensions: extensions)
        case .symlink: throw CoreError(.symlinkInPath, "\(path.canonical) is a symbolic link", extensions: extensions)
        case .unknown: throw CoreError(.invalidPath, "\(path.canonical) is not a regular file", extensions: extensions)
        }
    }
}
