import Foundation

/// Standard Webhooks 1.0 symmetric signatures. The domain only makes the secrets (a lease's
/// grant returns one); signing with them (HMAC-SHA256, libcrypto) is PinWebhooks' extension.
public enum WebhookSignature {
    /// "whsec_" + standard base64 of 32 bytes from the system CSPRNG.
    public static func makeSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "whsec_" + Data(bytes).base64EncodedString()
    }
}
