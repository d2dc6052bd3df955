import LinuxFS

/// Reads a file's layout from the kernel: `fsync`, then FIEMAP with `FIEMAP_FLAG_SYNC`
/// (or SEEK_DATA/SEEK_HOLE where the filesystem has no FIEMAP), statx and statfs.
enum LayoutInspector {
    struct Inspection: Sendable {
        let layout: FileLayout
        let report: LayoutReport
        /// The filesystem as statfs and mountinfo showed it during this inspection.
        let filesystem: FilesystemInfo
    }

    static func inspect(_ file: OpenFile, path: RootedPath, locked: Bool) throws(LinuxError) -> Inspection {
        try file.sync()
        let status = try file.status()
        let filesystem = try file.filesystem()
        let layout: FileLayout
        let source: String
        do throws(LinuxError) {
            layout = FileLayout(size: status.size, extents: try file.extents(length: status.size, sync: true))
            source = "fiemap"
        } catch  where error.code == .notSupported || error.code == .inappropriateIOCTLForDevice {
            layout = FileLayout(size: status.size, dataSegments: try file.dataSegments(size: status.size))
            source = "seek_data"
        }
        var reasons = layout.reasons
        if let hardLinked = HardLinkCheck.reason(links: status.links) { reasons.append(hardLinked) }
        if filesystem.type == "xfs", let xflags = try? file.extendedFlags(), xflags & extendedFlagRealtime != 0 {
            reasons.append(
                NotReadyReason(code: "realtime-device", detail: "the file lives on the XFS realtime device", bytes: nil)
            )
        }
        let report = LayoutReport(
            path: path, size: status.size, blockSize: UInt64(status.blockSize), fsType: filesystem.type,
            mountPoint: filesystem.mountPoint, dax: status.isDAX, immutable: status.isImmutable, locked: locked,
            extentSource: source, extentCount: layout.extentCount, holeCount: layout.holeCount,
            bytes: layout.bytes, reasons: reasons)
        return Inspection(layout: layout, report: report, filesystem: filesystem)
    }

    /// `inspect` with system-call failures reported as core errors.
    static func inspectReporting(_ file: OpenFile, path: RootedPath, locked: Bool = false) throws(CoreError)
        -> Inspection
    {
        do throws(LinuxError) {
            return try inspect(file, path: path, locked: locked)
        } catch {
            throw CoreError.from(error, path: path.canonical)
        }
    }
}
