/// Where the bearer token comes from, in order: `--token`, `--token-file`, `PINLEASE_TOKEN`,
/// `PINLEASE_TOKEN_FILE`, then the local daemon's generated admin token (`./var/state/admin.token`,
/// the daemon's default state directory) when it is readable. The token is never printed.
public enum Credentials {
    /// The admin token file of a daemon started with the default `--state-dir ./var/state`.
    public static let defaultAdminTokenFile = "./var/state/admin.token"

    /// The token to send, or nil to send none (the daemon then answers 401 where one is needed).
    /// An explicitly named token file that cannot be read is an error; the default one is optional.
    public static func resolve(
        token: String?, tokenFile: String?, environment: [String: String]
    ) throws(ClientError) -> String? {
        if let token { return try nonEmpty(token, source: "--token") }
        if let tokenFile { return try read(tokenFile, source: "--token-file") }
        if let token = environment["PINLEASE_TOKEN"], !token.isEmpty {
            return try nonEmpty(token, source: "PINLEASE_TOKEN")
        }
        if let file = environment["PINLEASE_TOKEN_FILE"], !file.isEmpty {
            return try read(file, source: "PINLEASE_TOKEN_FILE")
        }
        return try? read(defaultAdminTokenFile, source: "the default admin token file")
    }

    private static func nonEmpty(_ token: String, source: String) throws(ClientError) -> String {
        let trimmed = token.trimmingWhitespace
        guard !trimmed.isEmpty else { throw ClientError(.usage, "\(source) is empty") }
        // A token with a newline inside would split the Authorization header.
        guard !trimmed.contains(where: { $0.isNewline }) else {
            throw ClientError(.usage, "\(source) holds more than one line")
        }
        return trimmed
    }

    /// The first 4 KiB of `path`, trimmed; the error names the file, never its contents.
    private static func read(_ path: String, source: String) throws(ClientError) -> String {
        let bytes: [UInt8]
        do { bytes = try FilePrefix.read(path, limit: 4096) } catch {
            throw ClientError(.other, "cannot read the token file \(path) (\(source)): \(error.reason)")
        }
        return try nonEmpty(String(decoding: bytes, as: UTF8.self), source: "token file \(path)")
    }
}
