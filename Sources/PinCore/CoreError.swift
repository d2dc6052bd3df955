import LinuxFS

/// A failure of a core operation: a stable `code`, a one-line `detail` for people, and
/// machine-readable `extensions` (for example `path`, `pids`, `reasons`, `report`).
public struct CoreError: Error, Sendable, CustomStringConvertible {
    public let code: CoreErrorCode
    public let detail: String
    public let extensions: ErrorExtensions

    public init(_ code: CoreErrorCode, _ detail: String, extensions: ErrorExtensions = ErrorExtensions()) {
        self.code = code
        self.detail = detail
        self.extensions = extensions
    }

    public var description: String { "\(code.rawValue): \(detail)" }

    /// Maps a failed system call on `path` to the most specific core error.
    static func from(_ error: LinuxError, path: String) -> CoreError {
        var extensions: ErrorExtensions = ["path": .text(path)]
        switch error.code {
        case .noSuchFileOrDirectory:
            return CoreError(.notFound, "\(path) does not exist", extensions: extensions)
        case .fileNameTooLong:
            return CoreError(
                .invalidPath, "\(path): a component of the path is longer than the filesystem allows",
                extensions: extensions)
        case .notDirectory:
            return CoreError(.notFound, "\(path): a component of the path is not a directory", extensions: extensions)
        case .tooManySymbolicLinkLevels:
            return CoreError(
                .symlinkInPath, "\(path): a component of the path is a symbolic link", extensions: extensions)
        case .improperLink:
            return CoreError(
                .crossesMount, "\(path): the path crosses a mount point below its root", extensions: extensions)
        case .readOnlyFileSystem:
            return CoreError(.readOnlyFilesystem, "\(path) is on a read-only filesystem", extensions: extensions)
        case .noSpace, .diskQuotaExceeded:
            return CoreError(.noSpace, "\(path): \(error.message)", extensions: extensions)
        default:
            extensions["errno"] = .text(error.name)
            extensions["call"] = .text(error.call)
            return CoreError(
                .systemError, "\(path): \(error.call) failed: \(error.message) (\(error.name))", extensions: extensions)
        }
    }
}
