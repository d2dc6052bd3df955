import LinuxFS
import Synchronization

/// Whether the daemon can serve, check by check (`GET /readyz`).
public struct Readiness: Sendable, Equatable {
    /// One check: its name (`roots`, `state`, `draining`), whether it passed, and why not.
    public struct Check: Sendable, Equatable {
        public let name: String
        public let ok: Bool
        /// Why the check failed, one reason per line item (empty when it passed).
        public let problems: [String]

        public init(name: String, problems: [String]) {
            self.name = name
            self.ok = problems.isEmpty
            self.problems = problems
        }
    }

    public let checks: [Check]

    /// True when every check passed.
    public var ready: Bool { checks.allSatisfy(\.ok) }
    /// Every failed check's problems, in the order of the checks.
    public var reasons: [String] { checks.flatMap(\.problems) }
}

extension PinCoreService {
    /// Each check of readiness, run now: `draining` (the daemon is revoking every lease before
    /// it stops), `roots` (each root's path still opens as the very directory the daemon holds
    /// open, and is readable, writable and searchable: a root unmounted or replaced under the
    /// daemon fails) and `state` (a page can be written in the state directory's filesystem,
    /// so the state store can still commit: a full or read-only filesystem fails).
    public func readinessReport() -> Readiness {
        let draining = leases.isDraining ? ["draining: revoking every lease before the daemon stops"] : []
        return Readiness(checks: [
            Readiness.Check(name: "draining", problems: draining),
            Readiness.Check(name: "roots", problems: roots.unusable()),
            Readiness.Check(name: "state", problems: stateProbe.problems()),
        ])
    }
}

/// Probes whether the state directory's filesystem still takes writes, without leaving
/// anything behind: an unnamed temporary file (`O_TMPFILE`) gets one page, and is gone when
/// closed. No fsync: the page's space is reserved by the write itself (ENOSPC then), and the
/// probe stays cheap enough for an unauthenticated endpoint. Its verdict is kept for
/// `maxAge` (monotonic clock), so a flood of `/readyz` writes at most one page per `maxAge`.
final class StateDirectoryProbe: Sendable {
    let directory: String
    let maxAge: Duration
    /// The last verdict and when it was reached. Held during a probe: concurrent callers wait
    /// for that probe's verdict rather than each writing a page.
    private let last = Mutex<(at: ContinuousClock.Instant, problems: [String])?>(nil)

    init(directory: String, maxAge: Duration = .seconds(1)) {
        self.directory = directory
        self.maxAge = maxAge
    }

    /// Why the state directory takes no writes (empty when it does), probed at most once per `maxAge`.
    /// A filesystem with no free block or mounted read-only fails at once (one `fstatfs`, no
    /// write, never cached), so a state filesystem that just filled up is not reported ready.
    func problems() -> [String] {
        if let plainlyUnwritable = Self.plainlyUnwritable(directory) { return [plainlyUnwritable] }
        return last.withLock { last in
            let now = ContinuousClock.now
            if let last, now - last.at < maxAge { return last.problems }
            let problems = Self.probe(directory)
            last = (now, problems)
            return problems
        }
    }

    /// Why the directory's filesystem plainly takes no writes (no free block, or read-only),
    /// nil when it may; any error is left to the write probe to report.
    static func plainlyUnwritable(_ stateDirectory: String) -> String? {
        guard let space = try? openDirectory(stateDirectory).freeSpace() else { return nil }
        let why = space.isReadOnly ? "read-only filesystem" : space.freeBytes == 0 ? "no space left on device" : nil
        return why.map { "the state directory \(stateDirectory) takes no writes: \($0)" }
    }

    static func probe(_ stateDirectory: String) -> [String] {
        let page = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { page.deallocate() }
        page.initializeMemory(as: UInt8.self, repeating: 0)
        do throws(LinuxError) {
            let directory = try openDirectory(stateDirectory)
            let probe: OpenFile
            do throws(LinuxError) {
                probe = try openUnnamedTemporaryFile(in: directory)
            } catch  where error.code == .notSupported {
                // No O_TMPFILE on this filesystem: whether the directory may be written is all we learn.
                try checkAccess(stateDirectory, [.write, .execute])
                return []
            }
            try probe.writeAll(UnsafeRawBufferPointer(page), at: 0)
            return []
        } catch {
            return ["the state directory \(stateDirectory) takes no writes: \(error.message)"]
        }
    }
}
