internal import CLinux
import Glibc

/// A real long-term pin (`FOLL_WRITE|FOLL_LONGTERM`, the flags RDMA and VFIO use) of a range of
/// memory, taken by registering it as io_uring fixed buffers on a ring of its own. The pin
/// lasts until this object goes away, which unregisters the buffers and closes the ring.
///
/// The kernel refuses the pin with `EFAULT` for shared mappings of page-cache files
/// (ext4, xfs, btrfs: `writable_file_mapping_allowed`) and for any mapping without write
/// permission, with `EOPNOTSUPP` for fsdax mappings; shmem (tmpfs), hugetlbfs and anonymous
/// memory can be pinned. Pinned bytes count against `RLIMIT_MEMLOCK` unless `CAP_IPC_LOCK`.
public final class LongTermPin: @unchecked Sendable {
    /// io_uring takes at most 1 GiB per registered buffer.
    public static let maximumBufferLength = 1 << 30

    private let ring: UnsafeMutableRawPointer
    /// The pinned mapping, kept alive (mapped) at least as long as the pin.
    public let mapping: MemoryMapping
    /// The ring's descriptor: `/proc/self/fdinfo/<fd>` lists the registered buffers.
    public let ringDescriptor: Int32
    /// How many fixed buffers the range was registered as (1 GiB each at most).
    public let bufferCount: Int

    /// Pins the whole of `mapping` (which must be writable for the kernel to accept it).
    ///
    /// The corresponding calls are `io_uring_queue_init` and `io_uring_register_buffers`
    /// (liburing), i.e. `io_uring_register(IORING_REGISTER_BUFFERS)`.
    /// - Throws: `LinuxError`: `EFAULT` when the kernel refuses a long-term pin of this
    ///   mapping, `EOPNOTSUPP` on fsdax, `ENOMEM` past `RLIMIT_MEMLOCK`, `EPERM` when io_uring
    ///   is disabled (`kernel.io_uring_disabled`).
    public init(mapping: MemoryMapping) throws(LinuxError) {
        let address = mapping.address
        let length = mapping.length
        var error: Int32 = 0
        guard let ring = clinux_uring_create(&error) else {
            throw LinuxError(errno: error, call: "io_uring_queue_init")
        }
        var vectors: [iovec] = []
        var offset = 0
        while offset < length {
            let count = min(Self.maximumBufferLength, length - offset)
            vectors.append(iovec(iov_base: address + offset, iov_len: count))
            offset += count
        }
        let result = vectors.withUnsafeBufferPointer {
            clinux_uring_register_buffers(ring, $0.baseAddress, UInt32($0.count))
        }
        guard result == 0 else {
            clinux_uring_destroy(ring)
            throw LinuxError(errno: -result, call: "io_uring_register(IORING_REGISTER_BUFFERS)")
        }
        self.ring = ring
        self.mapping = mapping
        ringDescriptor = clinux_uring_fd(ring)
        bufferCount = vectors.count
    }

    deinit {
        _ = clinux_uring_unregister_buffers(ring)
        clinux_uring_destroy(ring)
    }
}
