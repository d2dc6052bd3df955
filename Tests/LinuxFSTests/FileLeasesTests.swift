import Glibc
import LinuxFS
import Testing

@Suite("fcntl leases")
struct FileLeasesTests {
    @Test func readLeaseNeedsNoWriters() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let writer = try directory.create("leased.bin")
        let reader = try openBeneath(try directory.open(), "leased.bin", flags: .readOnly)

        let refused = linuxError { try reader.setLease(.read) }
        #expect(refused?.errno == EAGAIN)
        #expect(refused?.call == "fcntl(F_SETLEASE)")
        #expect(try reader.currentLease() == .none)

        _ = consume writer  // closes the only writable descriptor
        try reader.setLease(.read)
        defer { try? reader.setLease(.none) }
        #expect(try reader.currentLease() == .read)

        // Another read-only open does not break a read lease.
        _ = try openBeneath(try directory.open(), "leased.bin", flags: .readOnly)
        #expect(try reader.currentLease() == .read)

        try reader.setLease(.none)
        #expect(try reader.currentLease() == .none)
    }

    @Test func nonBlockingWriterBreaksReadLease() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        _ = try directory.create("broken.bin")
        let reader = try openBeneath(try directory.open(), "broken.bin", flags: .readOnly)
        // Use a signal nobody waits on here, so the lease-break test's waiter is not fed.
        try reader.setLeaseSignal(SIGURG)
        try reader.setLease(.read)
        defer { try? reader.setLease(.none) }
        let error = linuxError {
            try openBeneath(try directory.open(), "broken.bin", flags: [.writeOnly, .nonBlocking])
        }
        #expect(error?.errno == EAGAIN)
        #expect(try reader.currentLease() == .none)  // break pending: target type
    }

    @Test func writeLeaseNeedsSoleOpener() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let only = try directory.create("solo.bin")
        try only.setLease(.write)
        #expect(try only.currentLease() == .write)
        try only.setLease(.none)
        let other = try openBeneath(try directory.open(), "solo.bin", flags: .readOnly)
        #expect(linuxError { try only.setLease(.write) }?.errno == EAGAIN)
        _ = other
    }
}
