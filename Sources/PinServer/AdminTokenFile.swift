import LinuxFS
import Logging

/// The generated admin token in `<state-dir>/admin.token`: 32 random bytes, base64url, mode 0600.
enum AdminTokenFile {
    /// Returns the token stored at `path`, creating the file (and the state directory) when missing or empty.
    static func loadOrCreate(path: String, stateDirectory: String, logger: Logger) throws(TokenStoreError) -> String {
        func failure(_ error: LinuxError) -> TokenStoreError {
            TokenStoreError(message: "admin token \(path): \(error.briefDescription)")
        }
        do {
            let existing = try SmallFile.read(path, limit: 4096)
            let token = String(decoding: existing, as: UTF8.self).trimmingWhitespace
            if !token.isEmpty {
                try restrictMode(path, logger: logger)
                return token
            }
            logger.warning("admin token file \(path) is empty; writing a new token")
        } catch let error where error.code == .noSuchFileOrDirectory {
            // First start: create it below.
        } catch {
            throw failure(error)
        }
        let token = generateToken()
        do {
            try SmallFile.makeDirectories(stateDirectory)
            try SmallFile.writeAtomically(path, contents: Array((token + "\n").utf8))
        } catch {
            throw failure(error)
        }
        return token
    }

    /// A new token: 32 bytes from the system's secure generator, base64url without padding.
    static func generateToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// Tightens a token file that others can read back to 0600.
    private static func restrictMode(_ path: String, logger: Logger) throws(LinuxError) {
        guard try fileMode(atPath: path) & 0o077 != 0 else { return }
        try changeFileMode(atPath: path, to: 0o600)
        logger.warning("admin token file \(path) was readable by others; changed its mode to 0600")
    }
}
