import LinuxFS

/// Turns byte ranges into written zeroes, the fastest way the kernel allows here:
/// `FALLOC_FL_WRITE_ZEROES` where the filesystem and device support it, otherwise a plain
/// `fallocate` of the range (contiguous extents, measured faster than writing into a hole)
/// followed by writes of zeroes in large block-aligned chunks through an `O_DIRECT`
/// descriptor (no page-cache copy), with buffered writes for an unaligned tail. Never `FALLOC_FL_ZERO_RANGE`: it leaves
/// unwritten extents.
final class ZeroWriter {
    /// 32 MiB: measured faster than 8 MiB for direct writes on xfs and ext4 here.
    static let chunkSize = 32 << 20

    private let file: OpenFile
    private var direct: OpenFile?
    private let blockSize: UInt64
    private let progress: PrepareProgress
    private var writeZeroesSupported = true
    private var preallocatedUpTo: UInt64 = 0
    private let zeroes: UnsafeMutableRawBufferPointer

    init(file: OpenFile, direct: OpenFile?, blockSize: UInt64, progress: PrepareProgress) {
        self.file = file
        self.direct = direct
        self.blockSize = max(blockSize, 4096)
        self.progress = progress
        zeroes = .allocate(byteCount: Self.chunkSize, alignment: 4096)
        zeroes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { zeroes.deallocate() }

    /// Writes zeroes over `range`. Progress advances per chunk; cancellation is checked per chunk.
    func zero(_ range: Range<UInt64>) throws(CoreError) {
        var offset = range.lowerBound
        while offset < range.upperBound {
            try progress.checkCancelled()
            let chunk = offset..<(offset + min(UInt64(Self.chunkSize), range.upperBound - offset))
            if try !writeZeroes(chunk) {
                if preallocatedUpTo < range.upperBound {
                    // One call for the rest of the range; where the filesystem cannot, the writes allocate.
                    try? file.allocate(.allocate, offset: offset, length: range.upperBound - offset)
                    preallocatedUpTo = range.upperBound
                }
                try writeZeroBytes(chunk)
            }
            progress.advance(by: chunk.upperBound - chunk.lowerBound)
            offset = chunk.upperBound
        }
    }

    /// `FALLOC_FL_WRITE_ZEROES` over `range`; false once the filesystem or device refused it.
    private func writeZeroes(_ range: Range<UInt64>) throws(CoreError) -> Bool {
        guard writeZeroesSupported else { return false }
        do throws(LinuxError) {
            try file.allocate(.writeZeroes, offset: range.lowerBound, length: range.upperBound - range.lowerBound)
            return true
        } catch  where [.notSupported, .invalidArgument, .noFunction].contains(error.code) {
            writeZeroesSupported = false
            return false
        } catch {
            throw CoreError.from(error, path: file.path)
        }
    }

    private func writeZeroBytes(_ range: Range<UInt64>) throws(CoreError) {
        let alignedEnd = range.upperBound - range.upperBound % blockSize
        var start = range.lowerBound
        if let direct, start % blockSize == 0, alignedEnd > start {
            do throws(LinuxError) {
                try direct.writeAll(UnsafeRawBufferPointer(rebasing: zeroes[0..<Int(alignedEnd - start)]), at: start)
                start = alignedEnd
            } catch  where error.code == .invalidArgument {
                self.direct = nil
            } catch {
                throw CoreError.from(error, path: file.path)
            }
        }
        guard start < range.upperBound else { return }
        do throws(LinuxError) {
            try file.writeAll(UnsafeRawBufferPointer(rebasing: zeroes[0..<Int(range.upperBound - start)]), at: start)
        } catch {
            throw CoreError.from(error, path: file.path)
        }
    }
}
