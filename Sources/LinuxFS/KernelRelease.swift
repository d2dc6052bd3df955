import Glibc

/// The running kernel's release (`uname -r`, for example `6.1.0-28-amd64`), or `unknown` when
/// `uname(2)` fails.
public var kernelRelease: String {
    var names = utsname()
    guard uname(&names) == 0 else { return "unknown" }
    return withUnsafeBytes(of: &names.release) { bytes in
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}
