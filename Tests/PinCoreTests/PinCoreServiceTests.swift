import Dispatch
import Glibc
import Logging
import PinAssembly
import PinJSON
import PinStore
import PinTestSupport
import PinWire
import Testing

@testable import PinCore

/// `PinCoreService` over a temporary root and state directory: inspect and prepare as any
/// user; lock, pin and unlock (the immutable flag, mlock) as root only. Every core is shut
/// down at the end of its test.
@Suite struct PinCoreServiceTests {
    /// A core of its own; ``close()`` shuts it down and removes its directory.
    struct Fixture {
        let directory = StoreTestDirectory("pincore")
        let core: PinCoreService

        init(pinBudgetBytes: UInt64? = nil) throws {
            directory.makeDirectory("data")
            directory.makeDirectory("state")
            do {
                core = try Self.start(directory, pinBudgetBytes: pinBudgetBytes)
            } catch {
                directory.remove()
                throw error
            }
        }

        static func start(_ directory: StoreTestDirectory, pinBudgetBytes: UInt64? = nil) throws -> PinCoreService {
            var configuration = CoreConfiguration(
                roots: [RootSpec(name: "data", path: directory.file("data"))], stateDirectory: directory.file("state"),
                pinBudgetBytes: pinBudgetBytes)
            configuration.auditIntervalMilliseconds = 60_000  // these tests change no locked file behind the daemon
            return try PinCoreService(
                configuration: configuration, logger: Logger(label: "pincore-tests") { _ in SwiftLogNoOpLogHandler() })
        }

        func close() {
            core.shutdown()
            directory.remove()
        }

        /// Writes `bytes` bytes at offset 0 of `data/name`, leaving the file `size` bytes long
        /// (the rest a hole).
        func write(_ name: String, bytes: Int, size: Int) {
            let fd = open(directory.file("data/" + name), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            precondition(fd >= 0, "open \(name): errno \(errno)")
            defer { Glibc.close(fd) }
            let data = [UInt8](repeating: 0x5a, count: bytes)
            precondition(pwrite(fd, data, data.count, 0) == data.count && ftruncate(fd, off_t(size)) == 0)
        }

        /// A prepared (ready) file of `pages` pages.
        func readyFile(_ name: String, pages: Int) throws {
            write(name, bytes: 0, size: 0)
            _ = try core.prepare(PrepareRequest(path: name, size: UInt64(pages * Int(getpagesize()))))
        }
    }

    static func errorCode(_ body: () throws -> Void) -> CoreErrorCode? {
        do {
            try body()
            return nil
        } catch {
            return (error as? CoreError)?.code
        }
    }

    static let page = UInt64(getpagesize())

    @Test func prepareMakesAFileWithAHoleReady() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        fixture.write("sparse.bin", bytes: 4096, size: 1 << 20)
        let before = try fixture.core.inspect(path: "sparse.bin")
        #expect(!before.ready && before.reasons.map(\.code).contains("holes"), "\(before.reasons)")
        let prepared = try fixture.core.prepare(PrepareRequest(path: "sparse.bin"))
        #expect(prepared.ready && prepared.size == 1 << 20)
        #expect(try fixture.core.inspect(path: "data:sparse.bin").ready)
    }

    @Test func prepareRefusesWhatItMustNotDo() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        fixture.write("small.bin", bytes: 8192, size: 8192)
        #expect(
            Self.errorCode { _ = try fixture.core.prepare(PrepareRequest(path: "small.bin", size: 4096)) }
                == .wouldTruncate)
        #expect(
            Self.errorCode { _ = try fixture.core.prepare(PrepareRequest(path: "new.bin", create: true)) }
                == .sizeRequired)
        #expect(Self.errorCode { _ = try fixture.core.prepare(PrepareRequest(path: "absent.bin")) } == .notFound)
        #expect(Self.errorCode { _ = try fixture.core.inspect(path: "../small.bin") } == .pathTraversal)
        #expect(Self.errorCode { _ = try fixture.core.inspect(path: "other:small.bin") } == .unknownRoot)
        let created = try fixture.core.prepare(PrepareRequest(path: "new.bin", size: 3 * Self.page, create: true))
        #expect(created.ready && created.size == 3 * Self.page)
    }

    @Test func anAsynchronousPrepareIsRecordedAsAnOperation() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        fixture.write("async.bin", bytes: 0, size: 0)
        let started = try fixture.core.startPrepare(PrepareRequest(path: "async.bin", size: 1 << 20))
        #expect(started.kind == "prepare" && started.path == "data:async.bin")
        let deadline = DispatchTime.now() + 60
        var snapshot = started
        while snapshot.state == .running && DispatchTime.now() < deadline {
            usleep(2_000)
            snapshot = try fixture.core.operation(id: started.id)
        }
        let report: LayoutReport? = if case .prepared(let report)? = snapshot.result { report } else { nil }
        #expect(snapshot.state == .succeeded && report?.ready == true, "\(snapshot.json)")
        #expect(Self.errorCode { _ = try fixture.core.operation(id: "op_missing") } == .operationNotFound)
    }

    @Test(.enabled(if: StoreTestDirectory.isRoot, "the immutable flag and mlock need root"))
    func aPinnedFileCannotBeUnlockedUntilItsPinIsGone() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        try fixture.readyFile("a.bin", pages: 4)
        let report = try fixture.core.lock(path: "a.bin")
        #expect(report.immutable && report.readLease)
        #expect(
            try fixture.core.lock(path: "a.bin").lockedAt == report.lockedAt, "locking again the same way is a no-op")
        #expect(Self.errorCode { _ = try fixture.core.lock(path: "a.bin", writers: .daemon) } == .fileLocked)
        #expect(Self.errorCode { _ = try fixture.core.prepare(PrepareRequest(path: "a.bin")) } == .fileLocked)
        let pin = try fixture.core.pin(PinRequest(path: "a.bin", offset: 0, length: 2 * Self.page, access: .read))
        #expect(pin.state == .active && fixture.core.pinList().pins.map(\.id) == [pin.id])
        #expect(Self.errorCode { _ = try fixture.core.unlock(path: "a.bin") } == .pinsExist)
        #expect(fixture.core.trackedFiles().map(\.pinIDs) == [[pin.id]])
        try fixture.core.unpin(id: pin.id)
        #expect(try fixture.core.unlock(path: "a.bin").flagCleared)
        #expect(fixture.core.trackedFiles().isEmpty)
        #expect(Self.errorCode { _ = try fixture.core.pin(PinRequest(path: "a.bin", access: .read)) } == .notLocked)
    }

    @Test(.enabled(if: StoreTestDirectory.isRoot, "the immutable flag and mlock need root"))
    func aPinBeyondTheBudgetIsRefused() throws {
        let fixture = try Fixture(pinBudgetBytes: 2 * Self.page)
        defer { fixture.close() }
        try fixture.readyFile("a.bin", pages: 4)
        _ = try fixture.core.lock(path: "a.bin")
        #expect(
            Self.errorCode { _ = try fixture.core.pin(PinRequest(path: "a.bin", access: .read)) } == .pinBudgetExceeded)
        let pin = try fixture.core.pin(PinRequest(path: "a.bin", offset: 0, length: 2 * Self.page, access: .read))
        #expect(
            Self.errorCode {
                _ = try fixture.core.pin(
                    PinRequest(path: "a.bin", offset: 2 * Self.page, length: Self.page, access: .read))
            } == .pinBudgetExceeded)
        #expect(fixture.core.pinList().usage.pinnedBytes == 2 * Self.page)
        try fixture.core.unpin(id: pin.id)
        #expect(fixture.core.pinList().usage.pinnedBytes == 0)
    }

    /// A core started on the state directory of one that was shut down has its locks and pins back.
    @Test(.enabled(if: StoreTestDirectory.isRoot, "the immutable flag and mlock need root"))
    func locksAndPinsComeBackAfterARestart() throws {
        let directory: StoreTestDirectory
        let pinID: String
        do {
            let first = try Fixture()
            directory = first.directory
            defer { first.core.shutdown() }
            try first.readyFile("a.bin", pages: 2)
            _ = try first.core.lock(path: "a.bin")
            pinID = try first.core.pin(PinRequest(path: "a.bin", access: .read)).id
        }
        defer { directory.remove() }
        let restarted = try Fixture.start(directory)
        defer { restarted.shutdown() }
        #expect(restarted.trackedFiles().map(\.state) == ["locked"])
        #expect(restarted.pinList().pins.map(\.id) == [pinID])
        #expect(try restarted.pin(id: pinID).state == .active)
    }
}
