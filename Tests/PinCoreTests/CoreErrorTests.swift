import Glibc
import LinuxFS
import PinJSON
import Testing

@testable import PinCore

@Suite struct CoreErrorTests {
    @Test(arguments: [
        (ENOENT, CoreErrorCode.notFound), (ELOOP, .symlinkInPath), (EXDEV, .crossesMount), (EROFS, .readOnlyFilesystem),
        (ENOSPC, .noSpace), (EIO, .systemError),
    ])
    func systemCallFailuresMapToSpecificCodes(errno: Int32, code: CoreErrorCode) {
        let error = CoreError.from(LinuxError(errno: errno, call: "openat2", path: "a"), path: "data:a")
        #expect(error.code == code)
        #expect(error.extensions["path"] == .text("data:a"))
    }
}
