import LinuxFS

/// Gives a range private, plain extents without changing its bytes: `FALLOC_FL_UNSHARE_RANGE`
/// where the filesystem has it (xfs), otherwise reading each chunk and writing the same bytes
/// back, which makes copy-on-write filesystems allocate new blocks.
final class ExtentRewriter {
    private let file: OpenFile
    private let progress: PrepareProgress
    private var unshareSupported = true
    private let buffer: UnsafeMutableRawBufferPointer

    init(file: OpenFile, progress: PrepareProgress) {
        self.file = file
        self.progress = progress
        buffer = .allocate(byteCount: ZeroWriter.chunkSize, alignment: 4096)
    }

    deinit { buffer.deallocate() }

    func rewrite(_ range: Range<UInt64>) throws(CoreError) {
        if unshareSupported {
            try progress.checkCancelled()
            do throws(LinuxError) {
                try file.allocate(.unshareKeepSize, offset: range.lowerBound, length: UInt64(range.count))
                progress.advance(by: UInt64(range.count))
                return
            } catch  where [.notSupported, .invalidArgument, .noFunction].contains(error.code) {
                unshareSupported = false
            } catch {
                throw CoreError.from(error, path: file.path)
            }
        }
        var offset = range.lowerBound
        while offset < range.upperBound {
            try progress.checkCancelled()
            let want = Int(min(UInt64(buffer.count), range.upperBound - offset))
            do throws(LinuxError) {
                let got = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: offset)
                guard got > 0 else { return }
                try file.writeAll(UnsafeRawBufferPointer(rebasing: buffer[0..<got]), at: offset)
                offset += UInt64(got)
                progress.advance(by: UInt64(got))
            } catch {
                throw CoreError.from(error, path: file.path)
            }
        }
    }
}
