import LinuxFS

/// A validated byte range of a file to pin: page-aligned offset, a length that is a multiple of
/// the page size or ends exactly at the end of the file, inside the file and not empty.
struct PinRange: Sendable, Equatable {
    let offset: UInt64
    let length: UInt64

    static func validated(offset: UInt64?, length: UInt64?, size: UInt64, path: RootedPath) throws(CoreError)
        -> PinRange
    {
        let page = UInt64(pageSize)
        let offset = offset ?? 0
        let base: ErrorExtensions = [
            "path": .text(path.canonical), "size": .integer(Int64(size)), "page_size": .integer(Int64(page)),
        ]
        guard offset % page == 0 else {
            throw CoreError(
                .unalignedRange, "offset \(offset) is not a multiple of the page size (\(page))", extensions: base)
        }
        guard offset < size else {
            throw CoreError(
                .invalidRange, "offset \(offset) is not inside \(path.canonical) (\(size) bytes)", extensions: base)
        }
        let length = length ?? (size - offset)
        guard length > 0 else { throw CoreError(.invalidRange, "the length is 0", extensions: base) }
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= size else {
            throw CoreError(
                .invalidRange, "\(offset)+\(length) ends beyond the end of \(path.canonical) (\(size) bytes)",
                extensions: base)
        }
        guard length % page == 0 || end == size else {
            throw CoreError(
                .unalignedRange,
                "length \(length) is not a multiple of the page size (\(page)) and does not end at the end of the file",
                extensions: base)
        }
        return PinRange(offset: offset, length: length)
    }
}
