import Glibc

/// Which thread this is, to tell whether code runs on a given thread (e.g. a callback of the
/// thread it would otherwise wait for).
public struct ThreadIdentity: Sendable, Equatable {
    private let thread: pthread_t

    /// The calling thread.
    ///
    /// The corresponding C function is `pthread_self`.
    public static var current: ThreadIdentity {
        ThreadIdentity(thread: pthread_self())
    }

    /// The corresponding C function is `pthread_equal`.
    public static func == (lhs: ThreadIdentity, rhs: ThreadIdentity) -> Bool {
        pthread_equal(lhs.thread, rhs.thread) != 0
    }
}
