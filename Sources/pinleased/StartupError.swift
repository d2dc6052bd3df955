/// A reason the daemon cannot start, printed as one line (without the usage text).
struct StartupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
