import Glibc

/// Facts about the machine's memory that bound how much the daemon may pin.
public enum SystemMemory {
    /// Physical memory in bytes (`sysconf(_SC_PHYS_PAGES) * page size`).
    public static var physicalBytes: UInt64 {
        UInt64(max(0, sysconf(Int32(_SC_PHYS_PAGES)))) * UInt64(pageSize)
    }

    /// `vm.max_map_count`: how many mappings one process may have; `nil` if unreadable.
    public static var maxMapCount: Int? {
        ProcFiles.readText("/proc/sys/vm/max_map_count").flatMap { Int($0.filter { $0.isNumber }) }
    }
}
