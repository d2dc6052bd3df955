import Foundation
import Glibc
import LinuxFS
import Synchronization
import Testing

@Suite("lease-break signal")
struct LeaseBreakSignalTests {
    @Test func numberIsSIGRTMINPlusFour() {
        #expect(LeaseBreakSignal.number >= 34 + 4)
        #expect(LeaseBreakSignal.number <= 64)
    }

    @Test func installIsIdempotent() throws {
        try LeaseBreakSignal.install()
        try LeaseBreakSignal.install()
    }

    @Test func childWriterDeliversTheLeasedDescriptor() throws {
        try LeaseBreakSignal.install()
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        _ = try directory.create("watched.bin")
        let filePath = "\(directory.path)/watched.bin"
        let reader = try openBeneath(try directory.open(), "watched.bin", flags: .readOnly)
        try reader.setLeaseSignal(LeaseBreakSignal.number)
        try reader.setLease(.read)
        // Releasing lets the blocked child finish its open at once instead of after 45 s.
        defer { try? reader.setLease(.none) }

        let received = Mutex<Int32?>(nil)
        let done = DispatchSemaphore(value: 0)
        let waiter = Thread {
            let fd = LeaseBreakSignal.waitForBrokenDescriptor()
            received.withLock { $0 = fd }
            done.signal()
        }
        waiter.start()

        // The child blocks in open(O_WRONLY) until we release the lease.
        let child = try spawnShell("exec 3>>'\(filePath)'")
        defer {
            try? reader.setLease(.none)
            var status: Int32 = 0
            _ = waitpid(child, &status, 0)
        }

        let signalled = done.wait(timeout: .now() + 60)
        #expect(signalled == .success, "no lease-break notification within 10 s")
        #expect(received.withLock { $0 } == reader.fd)
        #expect(try reader.currentLease() == .none)  // break pending

        try reader.setLease(.none)
        var status: Int32 = 0
        #expect(waitpid(child, &status, 0) == child)
        #expect(status == 0)  // exited normally with code 0
    }

    /// Starts `/bin/sh -c script` with posix_spawn and returns its pid.
    private func spawnShell(_ script: String) throws -> pid_t {
        var pid: pid_t = 0
        let arguments = ["/bin/sh", "-c", script]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let result = posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ)
        if result != 0 { throw LinuxError(errno: result, call: "posix_spawn", path: "/bin/sh") }
        return pid
    }
}
