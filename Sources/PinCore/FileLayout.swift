import LinuxFS

/// A file's byte ranges classified by allocation state, from FIEMAP or SEEK_DATA/SEEK_HOLE,
/// clipped to the file size. Pure: built from what the kernel returned, no system calls.
struct FileLayout: Sendable, Equatable {
    enum State: Sendable, Equatable { case written, unwritten, hole, delalloc, inline, unknown }

    struct Segment: Sendable, Equatable {
        var range: Range<UInt64>
        var state: State
        var shared = false
        var encoded = false
        var unaligned = false
        var length: UInt64 { range.upperBound - range.lowerBound }
    }

    let size: UInt64
    let segments: [Segment]
    let extentCount: Int

    /// Classifies FIEMAP extents; gaps between them (and before/after) are holes.
    init(size: UInt64, extents: [Extent]) {
        var segments: [Segment] = []
        var cursor: UInt64 = 0
        var count = 0
        for extent in extents.sorted(by: { $0.logical < $1.logical }) where extent.logical < size {
            let start = max(extent.logical, cursor)
            let end = min(extent.end, size)
            guard start < end else { continue }
            count += 1
            if start > cursor { segments.append(Segment(range: cursor..<start, state: .hole)) }
            let flags = extent.flags
            let state: State =
                if flags.contains(.delalloc) {
                    .delalloc
                } else if flags.contains(.dataInline) || flags.contains(.dataTail) {
                    .inline
                } else if flags.contains(.unwritten) { .unwritten } else if flags.contains(.unknown) { .unknown } else {
                    .written
                }
            segments.append(
                Segment(
                    range: start..<end, state: state, shared: flags.contains(.shared),
                    encoded: flags.contains(.encoded) || flags.contains(.dataEncrypted),
                    unaligned: flags.contains(.notAligned) && state != .inline))
            cursor = end
        }
        if cursor < size { segments.append(Segment(range: cursor..<size, state: .hole)) }
        self.size = size
        self.segments = segments
        self.extentCount = count
    }

    /// Treats data segments (from SEEK_DATA) as written and the gaps as holes.
    init(size: UInt64, dataSegments: [Range<UInt64>]) {
        self.init(
            size: size,
            extents: dataSegments.map {
                Extent(logical: $0.lowerBound, physical: 0, length: $0.upperBound - $0.lowerBound, flags: [])
            })
    }

    var bytes: LayoutBytes {
        var bytes = LayoutBytes()
        for segment in segments {
            switch segment.state {
            case .written, .unknown: bytes.written += segment.length
            case .unwritten: bytes.unwritten += segment.length
            case .hole: bytes.hole += segment.length
            case .delalloc: bytes.delalloc += segment.length
            case .inline: bytes.inline += segment.length
            }
            if segment.shared { bytes.shared += segment.length }
            if segment.encoded { bytes.encoded += segment.length }
        }
        return bytes
    }

    var holeCount: Int { segments.count { $0.state == .hole } }

    /// Ranges that read as zeroes but are not written zeroes on disk: holes, unwritten and
    /// delayed-allocation extents. Filling them with written zeroes changes no byte's value.
    var rangesToZero: [Range<UInt64>] {
        coalesced(segments.filter { [.hole, .unwritten, .delalloc].contains($0.state) })
    }

    /// Data ranges that must be rewritten in place to get private, plain extents: shared
    /// (reflinked) and inline ranges. Their bytes stay what they are.
    var rewriteRanges: [Range<UInt64>] {
        coalesced(segments.filter { ($0.shared && $0.state == .written) || $0.state == .inline })
    }

    /// Every reason the layout is not ready, mirroring swapon's rules plus "no unwritten".
    var reasons: [NotReadyReason] {
        var reasons: [NotReadyReason] = []
        func add(_ code: String, _ matching: (Segment) -> Bool, _ what: String) {
            let hits = segments.filter(matching)
            guard !hits.isEmpty else { return }
            let total = hits.reduce(0) { $0 + $1.length }
            let noun = hits.count == 1 ? what : what + "s"
            reasons.append(NotReadyReason(code: code, detail: "\(hits.count) \(noun), \(total) bytes", bytes: total))
        }
        if size == 0 {
            reasons.append(
                NotReadyReason(code: "empty-file", detail: "the file is empty; prepare it with a size", bytes: 0))
        }
        add("holes", { $0.state == .hole }, "hole")
        add("unwritten-extents", { $0.state == .unwritten }, "unwritten extent")
        add("delalloc-extents", { $0.state == .delalloc }, "delayed-allocation extent")
        add("inline-data", { $0.state == .inline }, "inline extent")
        add("unknown-extents", { $0.state == .unknown }, "extent of unknown location")
        add("shared-extents", { $0.shared }, "shared extent")
        add("encoded-extents", { $0.encoded }, "encoded (compressed or encrypted) extent")
        add("unaligned-extents", { $0.unaligned }, "unaligned extent")
        return reasons
    }

    private func coalesced(_ segments: [Segment]) -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        for segment in segments {
            if let last = ranges.last, last.upperBound == segment.range.lowerBound {
                ranges[ranges.count - 1] = last.lowerBound..<segment.range.upperBound
            } else {
                ranges.append(segment.range)
            }
        }
        return ranges
    }
}
