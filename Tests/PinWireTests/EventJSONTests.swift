import PinCore
import PinJSON
import PinWire
import Testing

/// The JSON form of events: the exact bytes of the SSE `data:` line and of webhook bodies
/// (signed, so every byte counts), and of the `events` rows the store replays after a restart.
@Suite struct EventJSONTests {
    /// 2026-12-01T10:00:00.123Z
    static let granted: Int64 = 1_796_119_200_123

    static func leaseData(_ state: LeaseState, reason: String? = nil, deadline: Int64? = nil) -> LeaseEventData {
        LeaseEventData(
            leaseID: "lease_1", pinID: "pin_1", path: "data:a.bin", holder: "rdma-1", state: state, reason: reason,
            deadline: deadline, expiresAt: state == .active ? granted + 60_000 : nil)
    }

    static func event(_ type: EventType, _ payload: EventPayload, holder: String? = "rdma-1") -> Event {
        Event(sequence: 42, type: type, timestamp: "2026-12-01T10:00:00.123Z", payload: payload, holder: holder)
    }

    /// The JSON of event 42 of `type` whose data is `data`.
    static func body(_ type: EventType, _ data: String) -> String {
        #"{"seq":42,"type":""# + type.rawValue + #"","timestamp":"2026-12-01T10:00:00.123Z","data":"# + data + "}"
    }

    static let violation = FileViolationEventData(
        path: "data:a.bin", violation: FileViolation(code: "size-changed", detail: "4096 -> 0", detectedAt: granted))

    @Test func aGrantCarriesTheLeaseFieldsAndItsExpiry() {
        let event = Self.event(.leaseGranted, .lease(Self.leaseData(.active)))
        #expect(
            event.webhookBody
                == Self.body(
                    .leaseGranted,
                    #"{"lease_id":"lease_1","pin_id":"pin_1","path":"data:a.bin","holder":"rdma-1","state":"active","#
                        + #""expires_at":"2026-12-01T10:01:00.123Z"}"#))
    }

    @Test func aRevocationCarriesItsReasonAndDeadline() {
        let data = Self.leaseData(.revoking, reason: "revoked-by-admin", deadline: Self.granted + 30_000)
        let event = Self.event(.leaseRevoking, .lease(data))
        #expect(
            event.webhookBody
                == Self.body(
                    .leaseRevoking,
                    #"{"lease_id":"lease_1","pin_id":"pin_1","path":"data:a.bin","holder":"rdma-1","state":"revoking","#
                        + #""reason":"revoked-by-admin","deadline":"2026-12-01T10:00:30.123Z"}"#))
    }

    @Test func aFileViolationCarriesTheViolationAndEachHoldersCopyItsLeaseLast() {
        let published = Self.event(.fileViolation, .fileViolation(Self.violation), holder: nil)
        let data =
            #"{"path":"data:a.bin","reason":"size-changed","detail":"4096 -> 0","violation":{"code":"size-changed","#
            + #""detail":"4096 -> 0","detected_at":"2026-12-01T10:00:00.123Z"}"#
        #expect(published.webhookBody == Self.body(.fileViolation, data + "}"))
        var copy = Self.violation
        copy.leaseID = "lease_7"
        #expect(Self.event(.fileViolation, .fileViolation(copy)).storedData == data + #","lease_id":"lease_7"}"#)
    }

    /// Every typed payload is stored and read back as the same typed value and the same bytes.
    @Test func storedTypedEventsReadBackTyped() throws {
        var copy = Self.violation
        copy.leaseID = "lease_7"
        let events = [
            Self.event(.leaseGranted, .lease(Self.leaseData(.active))),
            Self.event(.leaseExpired, .lease(Self.leaseData(.revoking, reason: "expired", deadline: Self.granted + 1))),
            Self.event(.leaseReleased, .lease(Self.leaseData(.released, reason: "released"))),
            Self.event(.fileViolation, .fileViolation(Self.violation), holder: nil),
            Self.event(.fileViolation, .fileViolation(copy)),
        ]
        for event in events {
            let stored = event.storedData
            let read = try #require(
                Event(
                    sequence: 42, type: event.type, timestamp: event.timestamp, storedData: stored,
                    holder: event.holder))
            #expect(read == event)
            #expect(read.storedData == stored && read.webhookBody == event.webhookBody)
        }
    }

    /// A row no typed form writes back exactly (fields missing, other order, other members)
    /// is kept as its text and replayed byte for byte; data that is not an object makes no event.
    @Test func storedRowsOfOtherFormsReplayVerbatim() throws {
        let rows = [
            #"{"lease_id":"lease_1","pin_id":"pin_1"}"#,
            #"{"pin_id":"pin_1","lease_id":"lease_1","path":"data:a.bin","holder":"h","state":"active"}"#,
            #"{"lease_id":"lease_1","pin_id":"pin_1","path":"data:a.bin","holder":"h","state":"active","extra":1.5}"#,
            #"{"path":"data:b/c.bin"}"#,
            "{}",
        ]
        for row in rows {
            for type in [EventType.leaseGranted, .fileViolation] {
                let event = try #require(Event(sequence: 3, type: type, timestamp: "t", storedData: row, holder: nil))
                #expect(event.payload == .recorded(row))
                #expect(event.storedData == row)
                let expected = #"{"seq":3,"type":""# + type.rawValue + #"","timestamp":"t","data":"# + row + "}"
                #expect(event.webhookBody == expected)
            }
        }
        let typedLease = #"{"lease_id":"l","pin_id":"p","path":"data:a","holder":"h","state":"released"}"#
        let asViolation = try #require(
            Event(sequence: 1, type: .fileViolation, timestamp: "t", storedData: typedLease, holder: nil))
        #expect(asViolation.payload == .recorded(typedLease))
        for broken in ["", "not json", "[1,2]", #""text""#, #"{"a":"#] {
            #expect(Event(sequence: 1, type: .leaseGranted, timestamp: "t", storedData: broken, holder: nil) == nil)
        }
    }
}
