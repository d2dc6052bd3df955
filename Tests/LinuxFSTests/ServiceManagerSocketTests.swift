import Glibc
import LinuxFS
import Testing

@Suite("sd_notify: NOTIFY_SOCKET, notices and the watchdog interval")
struct ServiceManagerSocketTests {
    /// A datagram socket bound to `address` (a `sockaddr_un` made here, independently of the code
    /// under test) that receives what is sent to it.
    final class Receiver {
        let fd: Int32

        init(pathBytes: [UInt8]) throws {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
            try #require(fd >= 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
            let isAbstract = pathBytes.first == 0
            let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + pathBytes.count + (isAbstract ? 0 : 1)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
            }
            try #require(bound == 0, "bind: errno \(errno)")
        }

        deinit { close(fd) }

        /// The next datagram (waits at most 10 s: the send happened before this is called).
        func receive() throws -> String {
            var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            try #require(poll(&request, 1, 10_000) == 1, "no datagram arrived")
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            try #require(count >= 0)
            return String(decoding: buffer[..<count], as: UTF8.self)
        }
    }

    @Test func readsPathAndAbstractNames() throws {
        #expect(try ServiceManagerSocket(notifySocket: nil) == nil)
        #expect(try ServiceManagerSocket(notifySocket: "") == nil)
        #expect(try ServiceManagerSocket(notifySocket: "/run/systemd/notify")?.address == .path("/run/systemd/notify"))
        let abstract = try ServiceManagerSocket(notifySocket: "@/org/example/notify")
        #expect(abstract?.address == .abstract("/org/example/notify"))
        #expect(abstract?.text == "@/org/example/notify")
    }

    @Test func refusesOtherForms() {
        for value in ["relative/notify", "@", "vsock:2:1234"] {
            #expect(throws: LinuxError(errno: EAFNOSUPPORT, call: "NOTIFY_SOCKET", path: value)) {
                try ServiceManagerSocket(notifySocket: value)
            }
        }
        // sun_path holds 108 bytes: a path and its NUL, or a NUL and an abstract name.
        let longest = "/" + String(repeating: "p", count: 106)
        #expect((try? ServiceManagerSocket(notifySocket: longest)) != nil)
        #expect(throws: LinuxError(errno: ENAMETOOLONG, call: "NOTIFY_SOCKET", path: longest + "p")) {
            try ServiceManagerSocket(notifySocket: longest + "p")
        }
        let longestAbstract = "@" + String(repeating: "a", count: 107)
        #expect((try? ServiceManagerSocket(notifySocket: longestAbstract)) != nil)
        #expect(throws: LinuxError.self) { try ServiceManagerSocket(notifySocket: longestAbstract + "a") }
    }

    @Test func formatsNotices() {
        #expect(ServiceManagerNotice.ready.lines == "READY=1\n")
        #expect(ServiceManagerNotice.stopping.lines == "STOPPING=1\n")
        #expect(ServiceManagerNotice.watchdog.lines == "WATCHDOG=1\n")
        #expect(
            ServiceManagerNotice.reloading(monotonicMicroseconds: 1_234_567).lines
                == "RELOADING=1\nMONOTONIC_USEC=1234567\n")
        // A line break in the text would start a new KEY=VALUE line.
        #expect(ServiceManagerNotice.status("a\nREADY=1\r\nb").lines == "STATUS=a READY=1 b\n")
        #expect(ServiceManagerNotice.datagram([.ready, .status("serving")]) == "READY=1\nSTATUS=serving\n")
        guard case .reloading(let stamp) = ServiceManagerNotice.reloadingNow() else {
            Issue.record("not a reloading notice")
            return
        }
        let now = SystemClock.monotonicNanoseconds() / 1000
        #expect(stamp > 0 && stamp <= now)
    }

    @Test func watchdogIntervalIsHalfTheTimeoutForThisProcess() {
        #expect(ServiceManagerWatchdog.petInterval(usec: "3000000", watchdogPID: nil, pid: 42) == .milliseconds(1500))
        #expect(ServiceManagerWatchdog.petInterval(usec: "3000000", watchdogPID: "42", pid: 42) == .milliseconds(1500))
        #expect(ServiceManagerWatchdog.petInterval(usec: "3000000", watchdogPID: "43", pid: 42) == nil)
        #expect(ServiceManagerWatchdog.petInterval(usec: nil, watchdogPID: "42", pid: 42) == nil)
        #expect(ServiceManagerWatchdog.petInterval(usec: "0", watchdogPID: nil, pid: 42) == nil)
        #expect(ServiceManagerWatchdog.petInterval(usec: "soon", watchdogPID: nil, pid: 42) == nil)
    }

    @Test func sendsOneDatagramToASocketFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/notify"
        let receiver = try Receiver(pathBytes: Array(path.utf8))
        let socket = try #require(try ServiceManagerSocket(notifySocket: path))
        try socket.send([.ready, .status("serving on 127.0.0.1:8470")])
        #expect(try receiver.receive() == "READY=1\nSTATUS=serving on 127.0.0.1:8470\n")
        try socket.send([.watchdog])
        #expect(try receiver.receive() == "WATCHDOG=1\n")
    }

    @Test func sendsToAnAbstractName() throws {
        let name = "pinlease-test-notify-\(getpid())"
        let receiver = try Receiver(pathBytes: [0] + Array(name.utf8))
        let socket = try #require(try ServiceManagerSocket(notifySocket: "@" + name))
        try socket.send([.stopping])
        #expect(try receiver.receive() == "STOPPING=1\n")
    }

    @Test func reportsNobodyListening() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let socket = try #require(try ServiceManagerSocket(notifySocket: directory.path + "/absent"))
        #expect(throws: LinuxError(errno: ENOENT, call: "sendmsg", path: directory.path + "/absent")) {
            try socket.send([.ready])
        }
    }
}
