internal import CLinux
import Glibc

extension OpenFile {
    /// Returns the byte ranges within `0 ..< size` that hold data (written or allocated);
    /// everything else in that range is a hole. Adjacent data is one range.
    ///
    /// Works on every filesystem, including tmpfs where FIEMAP is missing, but cannot
    /// tell written from unwritten extents. Filesystems without hole tracking report the
    /// whole file as data.
    ///
    /// The corresponding C function is `lseek` with `SEEK_DATA` and `SEEK_HOLE`; `ENXIO`
    /// (no data past the offset) ends the walk.
    /// - Throws: `LinuxError` from `lseek` for any error other than `ENXIO`.
    public func dataSegments(size: UInt64) throws(LinuxError) -> [Range<UInt64>] {
        let limit = min(size, UInt64(Int64.max))
        var segments: [Range<UInt64>] = []
        var offset: UInt64 = 0
        while offset < limit {
            guard let dataStart = try seek(offset, whence: CLINUX_SEEK_DATA), dataStart < limit else { break }
            let holeStart = try seek(dataStart, whence: CLINUX_SEEK_HOLE) ?? limit
            let dataEnd = min(holeStart, limit)
            if dataEnd <= dataStart { break }
            segments.append(dataStart..<dataEnd)
            offset = dataEnd
        }
        return segments
    }

    /// `lseek(fd, offset, whence)`, or `nil` for `ENXIO`.
    private func seek(_ offset: UInt64, whence: Int32) throws(LinuxError) -> UInt64? {
        while true {
            let result = lseek(fd, off_t(offset), whence)
            if result >= 0 { return UInt64(result) }
            let code = Glibc.errno
            if code == EINTR { continue }
            if code == ENXIO { return nil }
            throw LinuxError(
                errno: code, call: whence == CLINUX_SEEK_DATA ? "lseek(SEEK_DATA)" : "lseek(SEEK_HOLE)", path: path)
        }
    }
}
