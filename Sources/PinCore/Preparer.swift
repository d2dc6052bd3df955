import LinuxFS

/// Makes an open file's layout ready for long-term pinning.
///
/// `fill`: every hole, unwritten and delayed-allocation range becomes written zeroes (those
/// ranges already read as zero), shared and inline ranges get private extents with the same
/// bytes: no byte that held data changes. `wipe`: every byte becomes a written zero.
/// A file that is already ready costs one fsync and one FIEMAP pass.
enum Preparer {
    /// Prepares `file` (open read-write; `direct` is the same file opened `O_DIRECT`, if the
    /// filesystem allows it), then fsyncs and re-inspects. Throws `not-ready` with the report
    /// when the layout still is not ready (for example compressed extents).
    static func prepare(
        _ file: OpenFile, direct: OpenFile?, path: RootedPath, mode: PrepareMode, progress: PrepareProgress
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

        let zeroWriter = ZeroWriter(file: file, direct: direct, blockSize: before.report.blockSize, progress: progress)
        for range in zeroRanges { try zeroWriter.zero(range) }
        let rewriter = ExtentRewriter(file: file, progress: progress)
        for range in rewriteRanges { try rewriter.rewrite(range) }

        let after = try LayoutInspector.inspectReporting(file, path: path).report
        guard after.ready else { throw after.notReadyError(suggestion: "it is still not ready after prepare") }
        return after
    }
}
