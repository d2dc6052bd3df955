import Foundation
import Glibc
import LinuxFS
import Testing

/// ``Allocator/releaseFreeMemory()`` gives back freed memory that glibc keeps resident on its own:
/// free chunks below a live one, which free() never returns to the kernel.
@Suite struct AllocatorTests {
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
        let pageSize = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let pages = Self.pages(of: chunks, size: chunkSize, pageSize: pageSize)
            .subtracting(Self.pages(of: [live], size: chunkSize, pageSize: pageSize))
        for chunk in chunks { free(chunk) }
        let before = Self.residentCount(pages)
        Allocator.releaseFreeMemory()
        let after = Self.residentCount(pages)
        // Measured on the freed pages themselves, not on the process's RssAnon, which tests running
        // beside this one move (and the core's own periodic release). Free-list headers keep a few
        // resident, other threads may reuse some: at most half may stay.
        #expect(
            after * 2 < pages.count, "\(before) -> \(after) of \(pages.count) freed pages resident after the release")
    }

    /// The page-aligned addresses of the pages that `chunks` (each `size` bytes) touch.
    static func pages(of chunks: [UnsafeMutableRawPointer], size: Int, pageSize: UInt) -> Set<UInt> {
        var pages = Set<UInt>()
        for chunk in chunks {
            let start = UInt(bitPattern: chunk)
            for page in stride(from: start & ~(pageSize - 1), to: start + UInt(size), by: Int(pageSize)) {
                pages.insert(page)
            }
        }
        return pages
    }

    /// How many of `pages` (page-aligned addresses) are resident (`mincore`).
    static func residentCount(_ pages: Set<UInt>) -> Int {
        var resident: UInt8 = 0
        return pages.count { page in
            mincore(UnsafeMutableRawPointer(bitPattern: page), 1, &resident) == 0 && resident & 1 != 0
        }
    }

    /// glibc's own rule raises the mmap threshold to the size of each mapped block freed (of at
    /// most 32 MiB: a 16 MiB one here); after ``Allocator/mapLargeBlocksApart()`` a large block
    /// keeps a mapping of its own.
    /// In a process of its own: glibc serves a request from a free chunk of the arena before it
    /// looks at the threshold, and tests running beside this one (the one above frees 64 MiB)
    /// can leave such a chunk. Exit status 1: the block came from an arena.
    @Test func largeBlocksKeepMappingsOfTheirOwnAfterALargerOneIsFreed() async {
        await #expect(processExitsWith: .success) {
            Allocator.mapLargeBlocksApart()
            free(malloc(16 << 20))
            guard let block = malloc(8 << 20) else { exit(2) }
            // glibc's chunk header, just before the block: its size with IS_MMAPPED (0x2).
            let header = block.load(fromByteOffset: -MemoryLayout<UInt>.size, as: UInt.self)
            exit(header & 0x2 != 0 ? 0 : 1)
        }
    }
}
