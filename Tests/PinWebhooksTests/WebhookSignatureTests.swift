import Foundation
import Testing

@testable import PinCore
@testable import PinWebhooks

@Suite struct WebhookSignatureTests {
    @Test func standardWebhooksVector() throws {
        let signature = try WebhookSignature.sign(
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1_614_265_330,
            body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func secretWithoutPrefixIsDecodedWhole() throws {
        let body = Array("{}".utf8)
        let withPrefix = try WebhookSignature.sign(
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_1", timestamp: 1, body: body)
        let without = try WebhookSignature.sign(
            secret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_1", timestamp: 1, body: body)
        #expect(withPrefix == without)
        #expect(
            try WebhookSignature.sign(
                secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_1", timestamp: 2, body: body) != withPrefix)
    }

    @Test func secretsAreWhsecBase64Of32RandomBytes() {
        let secrets = (0..<100).map { _ in WebhookSignature.makeSecret() }
        for secret in secrets {
            #expect(secret.hasPrefix("whsec_"))
            #expect(Data(base64Encoded: String(secret.dropFirst(6)))?.count == 32)
        }
        #expect(Set(secrets).count == secrets.count)
    }

    @Test(arguments: ["whsec_not base64!", "whsec_", "%%%%"])
    func badSecretIsRefused(secret: String) {
        #expect(throws: CoreError.self) {
            try WebhookSignature.sign(secret: secret, id: "msg_1", timestamp: 1, body: [])
        }
    }
}
