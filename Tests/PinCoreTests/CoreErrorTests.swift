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
        #expect(error.extensions["path"] == .string("data:a"))
    }

    @Test func problemBodyCarriesTypeTitleAndExtensions() {
        let problem = CoreError(.writersPresent, "busy", extensions: ["pids": [1, 2]]).problemJSON
        #expect(problem["type"] == .string("https://pinlease.dev/problems/writers-present"))
        #expect(problem["title"] == .string(CoreErrorCode.writersPresent.title))
        #expect(problem["pids"] == .array([.int(1), .int(2)]))
    }
}
