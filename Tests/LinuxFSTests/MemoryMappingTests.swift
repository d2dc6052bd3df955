import Glibc
import LinuxFS
import Testing

@Suite("mmap, mlock, mincore and long-term pins")
struct MemoryMappingTests {
    private func fileWithData(_ directory: TemporaryDirectory, _ name: String, pages: Int) throws -> OpenFile {
        let file = try directory.create(name)
        try file.fill(0x42, count: pages * pageSize, at: 0)
        try file.sync()
        return file
    }

    @Test func lockedMappingIsResidentAndReadsTheFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try fileWithData(directory, "mapped.bin", pages: 16)
        let mapping = try MemoryMapping(file: file, offset: UInt64(4 * pageSize), length: 8 * pageSize, writable: false)
        try mapping.lock()
        #expect(try mapping.residentBytes() == UInt64(8 * pageSize))
        #expect(mapping.address.load(fromByteOffset: 5 * pageSize, as: UInt8.self) == 0x42)
        #expect(!mapping.isWritable)
        #expect(!mapping.isSynchronous)
        try mapping.unlock()
    }

    @Test func residencyOfAPartialLastPageCountsOnlyTheMappedLength() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.create("short.bin")
        try file.fill(1, count: pageSize + 100, at: 0)
        let mapping = try MemoryMapping(file: file, offset: 0, length: pageSize + 100, writable: false)
        try mapping.lock()
        #expect(try mapping.residentBytes() == UInt64(pageSize + 100))
    }

    @Test func writableMappingNeedsAWritableDescriptor() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        _ = try fileWithData(directory, "ro.bin", pages: 1)
        let readOnly = try openBeneath(try directory.open(), "ro.bin", flags: .readOnly)
        let error = linuxError { try MemoryMapping(file: readOnly, offset: 0, length: pageSize, writable: true) }
        #expect(error?.errno == EACCES)
        #expect(error?.call == "mmap")
    }

    @Test func mapSyncIsRefusedWithoutDAX() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = try fileWithData(directory, "sync.bin", pages: 1)
        let error = linuxError {
            try MemoryMapping(file: file, offset: 0, length: pageSize, writable: false, synchronous: true)
        }
        #expect(error?.errno == EOPNOTSUPP)
    }

    @Test func longTermPinIsRefusedForSharedPageCacheMappings() throws {
        let directory = TemporaryDirectory()  // /tmp: ext4 on the test machines
        defer { directory.remove() }
        let file = try fileWithData(directory, "pagecache.bin", pages: 4)
        let mapping = try MemoryMapping(file: file, offset: 0, length: 4 * pageSize, writable: true)
        let error = linuxError { try LongTermPin(mapping: mapping) }
        #expect(error?.errno == EFAULT)
        #expect(error?.call == "io_uring_register(IORING_REGISTER_BUFFERS)")
    }

    @Test func longTermPinOfReadOnlyMappingIsRefused() throws {
        try withTmpfs(at: "/tmp/linuxfs-test-longterm-ro") {
            let root = try openDirectory("/tmp/linuxfs-test-longterm-ro")
            let file = try openBeneath(root, "ro.bin", flags: [.readWrite, .create], mode: 0o600)
            try file.fill(7, count: pageSize, at: 0)
            let mapping = try MemoryMapping(file: file, offset: 0, length: pageSize, writable: false)
            #expect(linuxError { try LongTermPin(mapping: mapping) }?.errno == EFAULT)
        }
    }

    @Test func longTermPinOfTmpfsIsHeldAndVisibleInFdinfo() throws {
        guard isRoot else {
            print("skipped: mounting a tmpfs needs root")
            return
        }
        try withTmpfs(at: "/tmp/linuxfs-test-longterm") {
            let root = try openDirectory("/tmp/linuxfs-test-longterm")
            let file = try openBeneath(root, "shm.bin", flags: [.readWrite, .create], mode: 0o600)
            try file.fill(9, count: 8 * pageSize, at: 0)
            let mapping = try MemoryMapping(file: file, offset: 0, length: 8 * pageSize, writable: true)
            let pin = try LongTermPin(mapping: mapping)
            #expect(pin.bufferCount == 1)
            // (/proc/vmstat's nr_foll_pin_* fold per-CPU deltas lazily: not usable here.)
            let fdinfo = try #require(readText("/proc/self/fdinfo/\(pin.ringDescriptor)"))
            let userBuffers = fdinfo.split(separator: "\n").first { $0.hasPrefix("UserBufs:") }
            #expect(userBuffers?.split(whereSeparator: { $0 == " " || $0 == "\t" }).last == "1")
        }
    }

    @Test func unnamedTemporaryFileLeavesNothingBehind() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try openUnnamedTemporaryFile(in: try directory.open())
        try scratch.fill(1, count: 10, at: 0)
        #expect(try scratch.status().size == 10)
        let entries = try FileManagerEntries.list(directory.path)
        #expect(entries.isEmpty)
    }

    @Test func memoryLockLimitCanBeRaisedAsRoot() throws {
        let raised = MemoryLockLimit.raise()
        if Capability.sysResource.isEffective {
            #expect(raised.soft == nil && raised.hard == nil)
        } else {
            #expect(raised.soft == raised.hard)
        }
        #expect(MemoryLockLimit.current() == raised)
    }

    @Test func systemMemoryFactsAreRead() {
        #expect(SystemMemory.physicalBytes > 0)
        #expect((SystemMemory.maxMapCount ?? 0) > 0)
        #expect(Capability.ipcLock.isEffective == isRoot)
    }

    private func readText(_ path: String) -> String? {
        guard let handle = fopen(path, "r") else { return nil }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, handle)
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

enum FileManagerEntries {
    static func list(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw LinuxError(errno: errno, call: "opendir", path: path) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
