/// Checks of a request target (path and query) as the client sent it, before percent-decoding.
enum RequestTarget {
    /// The part of a target that holds a control character.
    enum Part: UInt8, Sendable {
        case path = 1
        case query = 2
    }

    /// Where the 0-terminated target first holds a control character (below 0x20, or 0x7F), raw
    /// or percent-encoded, or nil. Such a target is refused: decoded in place it would be cut at a
    /// NUL (`/v1/pins/pin_%00abc` would name `pin_`), and no path, id or query value of the API holds one.
    static func controlCharacter(in target: UnsafePointer<UInt8>) -> Part? {
        var part = Part.path
        var cursor = target
        while cursor.pointee != 0 {
            let byte = cursor.pointee
            if isControl(byte) { return part }
            if byte == UInt8(ascii: "?") { part = .query }
            if byte == UInt8(ascii: "%"), let high = hexValue(cursor[1]), let low = hexValue(cursor[2]) {
                if isControl(high << 4 | low) { return part }
                cursor += 3
                continue
            }
            cursor += 1
        }
        return nil
    }

    /// ``controlCharacter(in:)`` of a Swift string.
    static func controlCharacter(in target: String) -> Part? {
        var bytes = Array(target.utf8)
        bytes.append(0)
        return bytes.withUnsafeBufferPointer { controlCharacter(in: $0.baseAddress!) }
    }

    private static func isControl(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
