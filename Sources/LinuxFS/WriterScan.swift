import Glibc

/// Returns the IDs of processes that can currently write to the file `device`:`inode`,
/// sorted and without duplicates.
///
/// A process counts when it has a descriptor on the file whose access mode is not
/// `O_RDONLY` (`/proc/PID/fd/N` + the `flags:` line of `/proc/PID/fdinfo/N`), or a
/// shared writable mapping of it (`rw?s` in `/proc/PID/maps`). Processes that exit
/// during the scan or deny access are skipped, so the answer is best-effort and may be
/// stale by the time it returns. Needs root (or ptrace access) to see other users.
///
/// - Parameters:
///   - device: the file's `st_dev` (``FileStatus/device``).
///   - inode: the file's inode number.
///   - excluding: a process to leave out, by default the caller itself; `nil` for none.
public func processesWithWriteAccess(device: UInt64, inode: UInt64, excluding: Int32? = getpid()) -> [Int32] {
    guard let names = ProcFiles.entries(of: "/proc") else { return [] }
    var writers = Set<Int32>()
    for name in names {
        guard let pid = Int32(name), pid > 0, pid != excluding else { continue }
        if hasWritableDescriptor(pid: pid, device: device, inode: inode)
            || hasWritableSharedMapping(pid: pid, device: device, inode: inode)
        {
            writers.insert(pid)
        }
    }
    return writers.sorted()
}

/// Whether any `/proc/PID/fd/N` resolves to the file and was opened for writing.
private func hasWritableDescriptor(pid: Int32, device: UInt64, inode: UInt64) -> Bool {
    guard let descriptors = ProcFiles.entries(of: "/proc/\(pid)/fd") else { return false }
    for descriptor in descriptors {
        var info = stat()
        // stat(2) follows the magic link to the open file itself.
        guard (try? retryingOnInterrupt("stat", { stat("/proc/\(pid)/fd/\(descriptor)", &info) })) != nil,
            UInt64(info.st_dev) == device, UInt64(info.st_ino) == inode,
            let flags = openFlags(pid: pid, descriptor: descriptor)
        else { continue }
        if flags & O_ACCMODE != O_RDONLY { return true }
    }
    return false
}

/// The `flags:` value (octal) of `/proc/PID/fdinfo/N`.
private func openFlags(pid: Int32, descriptor: String) -> Int32? {
    guard let text = ProcFiles.readText("/proc/\(pid)/fdinfo/\(descriptor)") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("flags:") {
        let value = line.dropFirst("flags:".count).trimmingPrefix(while: { $0 == " " || $0 == "\t" })
        return Int32(value, radix: 8)
    }
    return nil
}

/// Whether `/proc/PID/maps` has a shared writable mapping of the file.
///
/// A maps line reads `start-end perms offset MAJ:MIN inode path`, e.g.
/// `7f..-7f.. rw-s 00000000 fd:01 1234 /data/a.bin`, with the device numbers in hex.
private func hasWritableSharedMapping(pid: Int32, device: UInt64, inode: UInt64) -> Bool {
    guard let text = ProcFiles.readText("/proc/\(pid)/maps") else { return false }
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5 else { continue }
        let perms = Array(fields[1].utf8)
        guard perms.count >= 4, perms[1] == UInt8(ascii: "w"), perms[3] == UInt8(ascii: "s") else { continue }
        guard UInt64(fields[4]) == inode else { continue }
        let numbers = fields[3].split(separator: ":")
        guard numbers.count == 2, let major = UInt32(numbers[0], radix: 16), let minor = UInt32(numbers[1], radix: 16)
        else { continue }
        if makeDevice(major: major, minor: minor) == device { return true }
    }
    return false
}
