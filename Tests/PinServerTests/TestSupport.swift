import Dispatch
import Foundation
import Glibc
import LinuxFS
import Logging
import PinJSON
import Synchronization

@testable import PinServer

/// A fresh directory under /tmp, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/pinserver-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func write(_ name: String, _ text: String) {
        let fd = open(file(name), O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0)
        _ = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress!, $0.count - 1) }
        close(fd)
    }

    func read(_ name: String) -> String? {
        (try? SmallFile.read(file(name), limit: 1 << 20)).map { String(decoding: $0, as: UTF8.self) }
    }

    func mode(_ name: String) -> mode_t {
        var info = stat()
        return stat(file(name), &info) == 0 ? info.st_mode & 0o777 : 0
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

extension Logger {
    static let test = Logger(label: "pinserver-tests") { _ in SwiftLogNoOpLogHandler() }
}

extension HTTPResponse {
    /// The body parsed as a JSON object.
    var jsonObject: JSONObject? {
        (try? JSONCodec.parse(body))?.objectValue
    }
}

extension DispatchTime {
    /// `duration` from now.
    static func after(_ duration: Duration) -> DispatchTime {
        .now() + Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// Proves that callers run at the same time: each waits until `parties` callers are inside at
/// once. The wait is bounded by a failure guard; once one caller gives up the barrier is
/// broken and later callers give up at once, so code that runs them one after another fails
/// after one guard period instead of hanging for `parties` of them.
final class Barrier: Sendable {
    let parties: Int
    private let state = Mutex(State())
    private let released = DispatchSemaphore(value: 0)

    private struct State {
        var arrived = 0
        var broken = false
    }

    init(parties: Int) {
        self.parties = parties
    }

    /// True when all parties were inside together before `timeout` ran out.
    func arriveAndWait(timeout: Duration) -> Bool {
        enum Arrival { case broken, last, waiting }
        let arrival = state.withLock { state -> Arrival in
            guard !state.broken, state.arrived < parties else { return .broken }
            state.arrived += 1
            return state.arrived == parties ? .last : .waiting
        }
        switch arrival {
        case .broken:
            return false
        case .last:
            for _ in 1..<parties { released.signal() }
            return true
        case .waiting:
            if released.wait(timeout: .after(timeout)) == .success { return true }
            state.withLock { $0.broken = true }
            return false
        }
    }
}

/// Holds callers until the test calls ``open()``, or until their failure guard runs out.
/// Counts the callers that arrived and those still held, so a test can wait for handlers to be
/// running and check that they still are.
final class Gate: Sendable {
    private let state = Mutex(State())
    private let released = DispatchSemaphore(value: 0)
    private let arrivals = DispatchSemaphore(value: 0)

    private struct State {
        var isOpen = false
        var waiting = 0
        var inside = 0
    }

    /// Waits until the gate is open; false when `timeout` ran out first.
    func pass(timeout: Duration) -> Bool {
        let alreadyOpen = state.withLock { state in
            state.inside += 1
            if !state.isOpen { state.waiting += 1 }
            return state.isOpen
        }
        arrivals.signal()
        defer { state.withLock { $0.inside -= 1 } }
        if alreadyOpen || released.wait(timeout: .after(timeout)) == .success { return true }
        return state.withLock { state in
            // Opened between the timeout and this lock: ``open()`` counted this caller already.
            guard !state.isOpen else { return true }
            state.waiting -= 1
            return false
        }
    }

    /// Lets every held caller (and every later one) through. Idempotent.
    func open() {
        state.withLock { state in
            guard !state.isOpen else { return }
            state.isOpen = true
            for _ in 0..<state.waiting { released.signal() }
            state.waiting = 0
        }
    }

    var isOpen: Bool {
        state.withLock { $0.isOpen }
    }

    /// Callers inside ``pass(timeout:)`` right now.
    var inside: Int {
        state.withLock { $0.inside }
    }

    /// Waits until `count` callers have arrived in total since the last call; false when
    /// `timeout` ran out first.
    func waitForArrivals(_ count: Int, timeout: Duration) -> Bool {
        let deadline = DispatchTime.after(timeout)
        for _ in 0..<count {
            guard arrivals.wait(timeout: deadline) == .success else { return false }
        }
        return true
    }
}
