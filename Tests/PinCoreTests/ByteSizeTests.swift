import Testing

@testable import PinCore

@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("4096", 4096 as UInt64), ("64MiB", 64 << 20), ("1 GiB", 1 << 30), ("2G", 2 << 30), ("3KiB", 3072), ("7B", 7),
        ("1TiB", 1 << 40),
    ])
    func parsesBinarySizes(text: String, bytes: UInt64) throws {
        #expect(try ByteSize.parse(text) == bytes)
    }

    @Test(arguments: ["", "MiB", "-1", "1.5GiB", "12 parsecs", "64mb", "99999999999TiB"])
    func rejectsWhatIsNotASize(text: String) {
        #expect { try ByteSize.parse(text) } throws: { ($0 as? CoreError)?.code == .invalidSize }
    }
}
