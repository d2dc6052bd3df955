import Dispatch
import Foundation
import Glibc
import LinuxFS
import Synchronization
import Testing

@Suite("Small wrappers")
struct SmallWrappersTests {
    @Test("Errno names match the C values and LinuxError.code")
    func errnoValues() {
        #expect(Errno.noSuchFileOrDirectory.rawValue == ENOENT)
        #expect(Errno.notSupported.rawValue == EOPNOTSUPP)
        #expect(Errno.resourceTemporarilyUnavailable.rawValue == EWOULDBLOCK)
        #expect(Errno.fileTooLarge.description == "EFBIG")
        let error = LinuxError(.diskQuotaExceeded, call: "write", path: "f")
        #expect(error.errno == EDQUOT && error.code == .diskQuotaExceeded)
    }

    @Test("briefDescription is the description without the errno name")
    func briefDescription() {
        let error = LinuxError(errno: ENOENT, call: "open", path: "/x")
        #expect(error.briefDescription == "open(/x): No such file or directory")
        #expect(error.description == "open(/x): No such file or directory (ENOENT)")
        #expect(LinuxError(errno: EPERM, call: "mlock").briefDescription == "mlock: Operation not permitted")
    }

    static func fields(_ time: CalendarTime) -> [Int] {
        [time.year, time.month, time.day, time.hour, time.minute, time.second]
    }

    @Test("CalendarTime breaks epoch seconds down in UTC")
    func calendarTime() {
        let epoch = CalendarTime(utcEpochSeconds: 0)
        #expect(Self.fields(epoch) == [1970, 1, 1, 0, 0, 0])
        let before = CalendarTime(utcEpochSeconds: -1)
        #expect(Self.fields(before) == [1969, 12, 31, 23, 59, 59])
        let leapDay = CalendarTime(utcEpochSeconds: 1_709_210_096)  // 2024-02-29T12:34:56Z
        #expect(Self.fields(leapDay) == [2024, 2, 29, 12, 34, 56])
    }

    @Test("IP addresses parse to their bytes and print back")
    func ipAddressText() {
        #expect(IPAddressText.ipv4Bytes("192.0.2.1") == [192, 0, 2, 1])
        #expect(IPAddressText.ipv4Bytes("::1") == nil && IPAddressText.ipv4Bytes("1.2.3") == nil)
        #expect(IPAddressText.ipv6Bytes("::1") == [UInt8](repeating: 0, count: 15) + [1])
        #expect(IPAddressText.ipv6Bytes("127.0.0.1") == nil)
        #expect(IPAddressText.format([10, 0, 0, 7]) == "10.0.0.7")
        #expect(IPAddressText.format(IPAddressText.ipv6Bytes("fe80::1")!) == "fe80::1")
        #expect(IPAddressText.format([1, 2, 3]) == nil)
    }

    @Test("fileMode does not follow a symbolic link; changeFileMode and checkAccess work on paths")
    func pathModes() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = "\(directory.path)/file"
        _ = try directory.create("file", mode: 0o644)
        #expect(symlink(path, "\(directory.path)/link") == 0)
        #expect(try fileMode(atPath: "\(directory.path)/link") & UInt32(S_IFMT) == UInt32(S_IFLNK))
        try changeFileMode(atPath: path, to: 0o600)
        #expect(try fileMode(atPath: path) & 0o7777 == 0o600)
        try checkAccess(path, [.read, .write])
        let missing = linuxError { try checkAccess("\(directory.path)/missing", .read) }
        #expect(missing?.code == .noSuchFileOrDirectory && missing?.call == "access")
        #expect(linuxError { try changeFileMode(atPath: "\(directory.path)/missing", to: 0o600) }?.call == "chmod")
    }

    @Test("the descriptor limit is raised to the hard limit")
    func descriptorLimit() throws {
        let raised = try #require(DescriptorLimit.raiseToHardLimit())
        var limit = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        #expect(raised == UInt64(limit.rlim_cur) && limit.rlim_cur == limit.rlim_max)
    }

    @Test("process facts and thread identity")
    func processFacts() {
        #expect(CurrentProcess.id == getpid() && CurrentProcess.userID == getuid())
        #expect(CurrentProcess.onlineProcessors >= 1)
        let here = ThreadIdentity.current
        #expect(here == ThreadIdentity.current)
        let other = Mutex<ThreadIdentity?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            other.withLock { $0 = ThreadIdentity.current }
            done.signal()
        }.start()
        done.wait()
        #expect(other.withLock { $0 } != nil && other.withLock { $0 } != here)
    }
}
