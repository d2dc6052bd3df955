import PinCore
import PinJSON
import Testing

@testable import PinWire

/// The delivery log is stored as JSON and shown again from what was stored: the document read
/// back must be the one that was written, byte for byte.
@Suite struct DeliveryRecordJSONTests {
    @Test(arguments: [
        Int64(0), -500, -1, 999, 1_614_265_330_042, 951_782_400_000, 951_868_799_999, 4_102_444_800_999,
        253_402_300_799_999,
    ])
    func timestampsReadBackToTheSameMillisecond(milliseconds: Int64) {
        #expect(WireTimestamp.milliseconds(WallClock.format(milliseconds: milliseconds)) == milliseconds)
    }

    @Test func otherTextIsNoTimestamp() {
        let texts = [
            "", "2021-02-25T15:02:10Z", "2021-02-25T15:02:10.042+01:00", "2021-13-25T15:02:10.042Z",
            "2021-02-25 15:02:10.042Z", "2021-02-25T15:02:1x.042Z",
        ]
        for text in texts {
            #expect(WireTimestamp.milliseconds(text) == nil, "\(text)")
        }
    }

    @Test(arguments: [
        DeliveryRecord.Outcome.delivered, .retrying(atMilliseconds: 1_614_265_331_000), .failed(reason: "gone (410)"),
    ])
    func aStoredRecordReadsBackToTheSameDocument(outcome: DeliveryRecord.Outcome) throws {
        for (status, error) in [(Int?.some(500), String?.none), (nil, "Connection refused")] {
            let record = DeliveryRecord(
                messageID: "msg_1", leaseID: "lease_1", event: .leaseRevoking, url: "http://a.example/",
                attempt: 2, startedAt: 1_614_265_330_500, durationMilliseconds: 12, statusCode: status, error: error,
                outcome: outcome)
            let stored = JSONCodec.encode(record.json)
            let parsed = try #require(try JSONCodec.parse(stored).objectValue)
            let decoded = try #require(DeliveryRecord(json: parsed))
            #expect(decoded == record)
            #expect(JSONCodec.encode(decoded.json) == stored)
        }
    }

    @Test func aDocumentWithoutItsOutcomeIsNoRecord() throws {
        let record = DeliveryRecord(
            messageID: "msg_1", leaseID: "lease_1", event: .leaseRevoked, url: "u", attempt: 1, startedAt: 0,
            durationMilliseconds: 0, statusCode: nil, error: nil, outcome: .failed(reason: "cancelled"))
        var object = try #require(record.json.objectValue)
        object["reason"] = nil
        #expect(DeliveryRecord(json: object) == nil)
    }
}
