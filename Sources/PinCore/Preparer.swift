import LinuxFS

/// Makes an open file's layout ready for long-term pinning.
///
/// `fill`: every hole, unwritten and delayed-allocation range becomes written zeroes (those
/// ranges already read as zero), shared and inline ranges get private extents with the same
/// bytes: no byte that held data changes. `wipe`: every byte becomes a written zero.
/// A file that is already ready costs one fsync and one FIEMAP pass.
enum Preparer {
    /// Prepares `file` (open read-write), then fsyncs and re-inspects. `openDirect` opens the
    /// same file `O_DIRECT` (nil where the filesystem refuses), only when zeroes must be written.
    /// Throws `no-space` before writing anything when the filesystem cannot hold the blocks to
    /// allocate, and `not-ready` with the report when the layout still is not ready afterwards
    /// (for example compressed extents).
    static func prepare(
        _ file: OpenFile, path: RootedPath, mode: PrepareMode, progress: PrepareProgress, openDirect: () -> OpenFile?
    ) throws(CoreError) -> LayoutReport {
        let before = try LayoutInspector.inspectReporting(file, path: path)
        let zeroRanges: [Range<UInt64>]
        let rewriteRanges: [Range<UInt64>]
        switch mode {
        case .fill:
            zeroRanges = before.layout.rangesToZero
            rewriteRanges = before.layout.rewriteRanges
        case .wipe:
            zeroRanges = before.layout.size > 0 ? [0..<before.layout.size] : []
            rewriteRanges = []
        }
        let total = (zeroRanges + rewriteRanges).reduce(0) { $0 + UInt64($1.count) }
        progress.setTotal(total)
        if total == 0 && before.report.ready { return before.report }

        try requireSpace(for: before.layout, mode: mode, filesystem: before.filesystem, path: path)
        do throws(CoreError) {
            if !zeroRanges.isEmpty {
                let zeroWriter = ZeroWriter(
                    file: file, direct: openDirect(), blockSize: before.report.blockSize, progress: progress)
                for range in zeroRanges { try zeroWriter.zero(range) }
            }
            if !rewriteRanges.isEmpty {
                let rewriter = ExtentRewriter(file: file, progress: progress)
                for range in rewriteRanges { try rewriter.rewrite(range) }
            }
        } catch  where error.code == .noSpace {
            giveBack(holes: before.layout, of: file)
            throw error
        }

        let after = try LayoutInspector.inspectReporting(file, path: path).report
        guard after.ready else { throw after.notReadyError(suggestion: "it is still not ready after prepare") }
        return after
    }

    /// After the filesystem filled up midway: deallocates again what were holes before (they
    /// read as zeroes either way), so that a failed prepare does not keep the blocks it took.
    private static func giveBack(holes layout: FileLayout, of file: OpenFile) {
        for segment in layout.segments where segment.state == .hole {
            try? file.allocate(
                .punchHoleKeepSize, offset: segment.range.lowerBound, length: UInt64(segment.range.count))
        }
    }

    /// Refuses up front what cannot fit: holes need new blocks, and so do shared ranges (and,
    /// for `wipe` on a copy-on-write filesystem, every byte).
    private static func requireSpace(
        for layout: FileLayout, mode: PrepareMode, filesystem: FilesystemInfo, path: RootedPath
    ) throws(CoreError) {
        let bytes = layout.bytes
        let copyOnWrite = filesystem.type == "btrfs"
        let needed = bytes.hole + bytes.shared + (mode == .wipe && copyOnWrite ? bytes.written + bytes.unwritten : 0)
        guard needed <= filesystem.availableBytes else {
            throw CoreError(
                .noSpace,
                "\(path.canonical) needs \(needed) bytes of new blocks, "
                    + "the filesystem has \(filesystem.availableBytes) available",
                extensions: [
                    "path": .text(path.canonical), "needed_bytes": .integer(Int64(needed)),
                    "available_bytes": .integer(Int64(filesystem.availableBytes)),
                ])
        }
    }
}
