import Glibc

/// The size of a memory page in bytes (4096 on x86_64).
///
/// The corresponding C call is `sysconf(_SC_PAGESIZE)`.
public var pageSize: Int {
    Int(sysconf(Int32(_SC_PAGESIZE)))
}
