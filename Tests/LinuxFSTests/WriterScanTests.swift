import Glibc
import LinuxFS
import Testing

@Suite("processesWithWriteAccess via /proc")
struct WriterScanTests {
    @Test func findsOwnWritableDescriptor() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        _ = try directory.create("w.bin")
        let root = try directory.open()
        let reader = try openBeneath(root, "w.bin", flags: .readOnly)
        let status = try reader.status()
        let me = getpid()

        #expect(!processesWithWriteAccess(device: status.device, inode: status.inode, excluding: nil).contains(me))

        let writer = try openBeneath(root, "w.bin", flags: .writeOnly)
        #expect(processesWithWriteAccess(device: status.device, inode: status.inode, excluding: nil) == [me])
        #expect(!processesWithWriteAccess(device: status.device, inode: status.inode).contains(me))
        _ = writer
    }

    @Test func findsSharedWritableMappingAfterClose() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("m.bin")
        try file.truncate(to: UInt64(pageSize))
        let status = try file.status()
        let mapping = try #require(
            mmap(nil, pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, file.fd, 0).flatMap { $0 == MAP_FAILED ? nil : $0 }
        )
        defer { munmap(mapping, pageSize) }
        _ = consume file  // only the mapping is left

        #expect(processesWithWriteAccess(device: status.device, inode: status.inode, excluding: nil) == [getpid()])

        // A read lease is refused while the writable mapping exists.
        let reader = try openBeneath(try directory.open(), "m.bin", flags: .readOnly)
        #expect(linuxError { try reader.setLease(.read) }?.errno == EAGAIN)
    }

    @Test func findsAnotherProcess() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let status = try directory.create("child.bin").status()
        var pid: pid_t = 0
        let arguments = ["/bin/sh", "-c", "exec 3>>'\(directory.path)/child.bin'; exec sleep 30"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        try #require(posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ) == 0)
        defer {
            kill(pid, SIGKILL)
            var exitStatus: Int32 = 0
            _ = waitpid(pid, &exitStatus, 0)
        }
        var found: [Int32] = []
        // The child needs a moment to open the file: poll, with a deadline only a broken scan
        // (or a child that never starts) reaches.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            found = processesWithWriteAccess(device: status.device, inode: status.inode)
            if !found.isEmpty { break }
            usleep(10_000)
        }
        #expect(found == [pid])
    }
}
