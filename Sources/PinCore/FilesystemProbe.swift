import LinuxFS
import Synchronization

/// What a real experiment on a scratch file showed about one mounted filesystem: whether a
/// descriptor opened for writing before `chattr +i` can still write, and whether the kernel
/// allows a writable long-term pin (io_uring fixed-buffer registration) of a `MAP_SHARED`
/// mapping. The scratch file is an unnamed `O_TMPFILE`: nothing is left behind.
struct FilesystemProbe: Sendable, Equatable {
    /// `nil` when the experiment could not run; the reason is in `unprobedReason`.
    var preopenedWritesBlocked: Bool?
    /// 0 when the registration succeeded, else the errno it failed with; `nil` when not run.
    var longTermWriteErrno: Int32?
    var unprobedReason: String?

    /// Runs both experiments in `directory` (any directory on the filesystem).
    static func run(in directory: OpenFile) -> FilesystemProbe {
        var probe = FilesystemProbe()
        let scratch: OpenFile
        let page = UnsafeMutableRawBufferPointer.allocate(byteCount: pageSize, alignment: 16)
        defer { page.deallocate() }
        page.initializeMemory(as: UInt8.self, repeating: 0x5a)
        do throws(LinuxError) {
            scratch = try openUnnamedTemporaryFile(in: directory)
            try scratch.writeAll(UnsafeRawBufferPointer(page), at: 0)
        } catch {
            probe.unprobedReason = "no scratch file could be made on this filesystem (\(error.call): \(error.name))"
            return probe
        }
        probe.longTermWriteErrno = longTermWriteResult(scratch)
        probe.preopenedWritesBlocked = preopenedWritesBlocked(
            scratch, data: UnsafeRawBufferPointer(rebasing: page[0..<1]))
        if probe.preopenedWritesBlocked == nil {
            probe.unprobedReason = "the immutable flag could not be set on a scratch file"
        }
        return probe
    }

    private static func longTermWriteResult(_ scratch: OpenFile) -> Int32? {
        do throws(LinuxError) {
            let mapping = try MemoryMapping(file: scratch, offset: 0, length: pageSize, writable: true)
            do throws(LinuxError) {
                _ = try LongTermPin(mapping: mapping)
                return 0
            } catch {
                return error.errno
            }
        } catch {
            return nil
        }
    }

    /// Sets +i on the scratch file, tries to write through the descriptor opened before, and
    /// clears the flag again.
    private static func preopenedWritesBlocked(_ scratch: OpenFile, data: UnsafeRawBufferPointer) -> Bool? {
        guard var flags = try? scratch.inodeFlags() else { return nil }
        flags.insert(.immutable)
        guard (try? scratch.setInodeFlags(flags)) != nil else { return nil }
        defer {
            flags.remove(.immutable)
            try? scratch.setInodeFlags(flags)
        }
        do throws(LinuxError) {
            try scratch.writeAll(data, at: 0)
            return false
        } catch {
            return error.code == .notPermitted
        }
    }
}

/// Probes each mounted filesystem once (by mount id) and remembers the result.
final class FilesystemProbeCache: Sendable {
    private let results = Mutex<[UInt64: FilesystemProbe]>([:])

    func probe(mountID: UInt64, directory: OpenFile) -> FilesystemProbe {
        if let known = results.withLock({ $0[mountID] }) { return known }
        let probe = FilesystemProbe.run(in: directory)
        results.withLock { $0[mountID] = probe }
        return probe
    }
}
