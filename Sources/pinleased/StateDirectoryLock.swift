import LinuxFS

/// The exclusive claim of one daemon on its state directory: an `flock` on `<state-dir>/lock`,
/// held for as long as this object lives (the kernel releases it when the process dies, however
/// it dies), with the holder's pid written into the file so that a second daemon can name it.
/// Taken before anything in the state directory is read or written: two daemons on one state
/// would both re-take its locks and pins.
struct StateDirectoryLock: ~Copyable {
    private let file: OpenFile

    /// Takes the lock or throws a one-line ``StartupError`` naming the pid of the daemon that holds it.
    init(stateDirectory: String) throws(StartupError) {
        let path = stateDirectory + "/lock"
        let file: OpenFile
        let locked: Bool
        do throws(LinuxError) {
            file = try openOrCreate(path, mode: 0o600)
            locked = try file.tryLockExclusive()
            // The pid only names the holder in a second daemon's message: not worth failing for (a full disk).
            if locked { try? file.replaceContents(with: "\(CurrentProcess.id)\n") }
        } catch {
            throw StartupError("cannot lock the state directory (\(path)): \(error.message)")
        }
        guard locked else {
            let text = (try? file.readContents(limit: 64))?.trimmingWhitespace ?? ""
            let holder = Int32(text).map { "pinleased pid \($0)" } ?? "another process"
            throw StartupError(
                "the state directory \(stateDirectory) is in use by \(holder) (\(path) is locked); "
                    + "one daemon per state directory"
            )
        }
        self.file = file
    }

    /// Keeps the lock until `body` returns (when the daemon has stopped).
    func hold<T>(_ body: () async throws -> T) async rethrows -> T {
        let result = try await body()
        withExtendedLifetime(file) {}
        return result
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(unicodeScalars.filter { !$0.properties.isWhitespace })
    }
}
