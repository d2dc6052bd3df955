import Glibc
import LinuxFS
import Testing

@Suite("LinuxError")
struct LinuxErrorTests {
    @Test func describesCallPathAndErrno() {
        let error = LinuxError(errno: ENOENT, call: "openat2", path: "a/b.bin")
        #expect(error.name == "ENOENT")
        #expect(error.message == "No such file or directory")
        #expect(error.description == "openat2(a/b.bin): No such file or directory (ENOENT)")
    }

    @Test func describesWithoutPath() {
        let error = LinuxError(errno: EOPNOTSUPP, call: "ioctl(FS_IOC_FIEMAP)")
        #expect(error.description == "ioctl(FS_IOC_FIEMAP): Operation not supported (EOPNOTSUPP)")
    }

    @Test func survivesUnknownErrno() {
        let error = LinuxError(errno: 4242, call: "x")
        #expect(error.name == "E4242")
        #expect(!error.message.isEmpty)
    }
}
