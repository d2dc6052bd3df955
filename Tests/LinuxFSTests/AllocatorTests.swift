import Foundation
import Glibc
import LinuxFS
import Testing

/// ``Allocator/releaseFreeMemory()`` gives back freed memory that glibc keeps resident on its own:
/// free chunks below a live one, which free() never returns to the kernel.
@Suite struct AllocatorTests {
    /// This process's `RssAnon` in KiB (`/proc/self/status`).
    static func residentAnonymousKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    @Test func freedMemoryBelowALiveChunkIsGivenBack() throws {
        // 64 MiB in chunks well under the mmap threshold, all touched, so they come from an arena.
        let chunkSize = 4_000
        let count = 64 << 20 / chunkSize
        var chunks: [UnsafeMutableRawPointer] = []
        chunks.reserveCapacity(count)
        for _ in 0..<count {
            let chunk = try #require(malloc(chunkSize))
            memset(chunk, 0x5a, chunkSize)
            chunks.append(chunk)
        }
        // The last one stays live: it sits at the top of the arena, so free() trims nothing.
        let live = chunks.removeLast()
        defer { free(live) }
        for chunk in chunks { free(chunk) }
        let before = try Self.residentAnonymousKiB()
        Allocator.releaseFreeMemory()
        let after = try Self.residentAnonymousKiB()
        // Other tests run beside this one and allocate too: ask for half of what was freed.
        #expect(before - after >= 32 << 10, "RssAnon \(before) KiB -> \(after) KiB: the freed 64 MiB stayed resident")
    }

    /// glibc's own rule raises the mmap threshold to the size of each mapped block freed (up to
    /// 32 MiB); after ``Allocator/mapLargeBlocksApart()`` a large block keeps a mapping of its own.
    @Test func largeBlocksKeepMappingsOfTheirOwnAfterALargerOneIsFreed() throws {
        Allocator.mapLargeBlocksApart()
        free(malloc(32 << 20))
        let block = try #require(malloc(8 << 20))
        defer { free(block) }
        // glibc's chunk header, just before the block: its size with IS_MMAPPED (0x2).
        let header = block.load(fromByteOffset: -MemoryLayout<UInt>.size, as: UInt.self)
        #expect(header & 0x2 != 0, "an 8 MiB block came from an arena after a 32 MiB one was freed")
    }
}
