/// One line of `/proc/self/mountinfo` (see `proc_pid_mountinfo(5)`):
///
///     36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
///     (1)(2)(3)   (4)   (5)      (6)      (7)   (8)  (9)    (10)        (11)
///
/// Paths are unescaped (`\040` → space, `\011`, `\012`, `\134`).
struct MountInfoEntry: Sendable, Equatable {
    /// Field 1: the mount ID (`stx_mnt_id`).
    var mountID: UInt64
    /// Field 5: the mount point, relative to the process's root.
    var mountPoint: String
    /// Field 6: the per-mount options, e.g. `rw,relatime`.
    var mountOptions: String
    /// Field 9: the filesystem type, e.g. `ext4`.
    var type: String
    /// Field 10: the mount source, e.g. `/dev/vda` or `tmpfs`.
    var source: String
    /// Field 11: the per-superblock options.
    var superOptions: String

    /// Parses one mountinfo line; `nil` if it is malformed.
    init?(line: Substring) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 10, let separator = fields.firstIndex(of: "-"), separator >= 6,
            fields.count >= separator + 3, let mountID = UInt64(fields[0])
        else { return nil }
        self.mountID = mountID
        self.mountPoint = Self.unescape(fields[4])
        self.mountOptions = String(fields[5])
        self.type = Self.unescape(fields[separator + 1])
        self.source = Self.unescape(fields[separator + 2])
        self.superOptions = fields.count > separator + 3 ? Self.unescape(fields[separator + 3]) : ""
    }

    /// All entries of a mountinfo text; malformed lines are skipped.
    static func parse(_ text: String) -> [MountInfoEntry] {
        text.split(separator: "\n").compactMap { MountInfoEntry(line: $0) }
    }

    /// Replaces the kernel's octal escapes (`\ooo`, as written by `seq_escape`) with the byte.
    static func unescape(_ field: Substring) -> String {
        let bytes = Array(field.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\"), index + 3 < bytes.count,
                let value = octalByte(bytes[(index + 1)..<(index + 4)])
            {
                output.append(value)
                index += 4
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func octalByte(_ digits: ArraySlice<UInt8>) -> UInt8? {
        guard digits.count == 3 else { return nil }
        var value: UInt32 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + UInt32(digit - UInt8(ascii: "0"))
        }
        return value <= 0xff ? UInt8(value) : nil
    }
}
