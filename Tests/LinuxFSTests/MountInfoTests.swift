import Testing

@testable import LinuxFS

@Suite("mountinfo parsing")
struct MountInfoTests {
    @Test func parsesOptionalFieldsAndEscapes() throws {
        let line =
            #"36 35 98:0 /mnt1 /mnt\040two\134x rw,noatime master:1 shared:7 - ext3 /dev/ro\040ot rw,errors=continue"#
        let entry = try #require(MountInfoEntry(line: Substring(line)))
        #expect(entry.mountID == 36)
        #expect(entry.mountPoint == #"/mnt two\x"#)
        #expect(entry.mountOptions == "rw,noatime")
        #expect(entry.type == "ext3")
        #expect(entry.source == "/dev/ro ot")
        #expect(entry.superOptions == "rw,errors=continue")
    }

    @Test func parsesLinesWithoutOptionalFields() throws {
        let entry = try #require(MountInfoEntry(line: "25 1 0:22 / /tmp/x rw,relatime - tmpfs tmpfs rw,size=1024k"))
        #expect(entry.mountPoint == "/tmp/x")
        #expect(entry.type == "tmpfs")
    }

    @Test func skipsMalformedLines() {
        #expect(MountInfoEntry(line: "garbage") == nil)
        #expect(MountInfoEntry(line: "x 1 0:22 / /a rw - tmpfs tmpfs rw") == nil)
        #expect(MountInfoEntry.parse("garbage\n25 1 0:22 / /a rw - tmpfs tmpfs rw\n").map(\.mountID) == [25])
        #expect(MountInfoEntry.unescape(#"a\0"#) == #"a\0"#)
        #expect(MountInfoEntry.unescape(#"\011\012"#) == "\t\n")
    }
}
