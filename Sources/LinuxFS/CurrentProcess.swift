import Glibc

/// Facts about this process and the machine it runs on that cannot fail to be read.
public enum CurrentProcess {
    /// This process's id.
    ///
    /// The corresponding C function is `getpid`.
    public static var id: Int32 {
        getpid()
    }

    /// The real user id of this process.
    ///
    /// The corresponding C function is `getuid`.
    public static var userID: UInt32 {
        getuid()
    }

    /// How many processors are online now (at least 1).
    ///
    /// The corresponding C call is `sysconf(_SC_NPROCESSORS_ONLN)`.
    public static var onlineProcessors: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}
