/// The version of the `pinlease` CLI (the same as the package's API document, `info.version`).
public enum ClientVersion {
    public static let current = "0.1.0"
}
