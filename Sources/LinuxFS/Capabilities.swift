import Glibc

/// A Linux capability, by its number in `include/uapi/linux/capability.h`.
public enum Capability: Int, Sendable {
    case linuxImmutable = 9
    case ipcLock = 14
    case sysResource = 24

    /// Whether the calling process has this capability in its effective set (read from the
    /// `CapEff` line of `/proc/self/status`).
    public var isEffective: Bool {
        guard let status = ProcFiles.readText("/proc/self/status"),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
            let mask = UInt64(
                line.dropFirst("CapEff:".count).trimmingPrefix(while: { $0 == " " || $0 == "\t" }), radix: 16)
        else { return false }
        return mask & (1 << UInt64(rawValue)) != 0
    }
}
