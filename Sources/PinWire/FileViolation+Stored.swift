import PinCore
import PinJSON

/// How the state database keeps a violation (with the time as a number of milliseconds).
extension FileViolation: JSONRepresentable {
    /// How the API shows a violation: `{"code","detail","detected_at"}` (RFC 3339).
    public var json: JSON {
        .object([
            "code": .string(code), "detail": .string(detail),
            "detected_at": .string(WallClock.format(milliseconds: detectedAt)),
        ])
    }
}

extension FileViolation {
    /// What is stored (with the time as a number).
    package var stored: JSON {
        .object(["code": .string(code), "detail": .string(detail), "detected_at_ms": .int(detectedAt)])
    }

    /// The violation a stored document describes (``stored``), or `nil` when it is not one.
    package init?(json: JSON) {
        guard let object = json.objectValue, let code = object["code"]?.stringValue,
            let detail = object["detail"]?.stringValue
        else {
            return nil
        }
        self.init(
            code: code, detail: detail, detectedAt: object["detected_at_ms"]?.int64Value ?? WallClock.nowMilliseconds())
    }
}
