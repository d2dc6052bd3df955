import CCrypto
import Foundation
import PinCore

/// Signing with a lease's `whsec_` secret (HMAC-SHA256, libcrypto); the secrets are made in the domain.
extension WebhookSignature {
    /// Standard Webhooks v1: "v1," + base64(HMAC-SHA256(key, "\(id).\(timestamp).\(body)")), where key is the
    /// base64 decoding of the secret after the "whsec_" prefix (a secret without the prefix is decoded whole).
    /// Throws `.systemError` when the secret is not base64 or decodes to no bytes: secrets are made by the
    /// daemon, so a bad one means its own state is damaged.
    public static func sign(secret: String, id: String, timestamp: Int64, body: [UInt8]) throws(CoreError) -> String {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        guard let key = Data(base64Encoded: encoded).map(Array.init), !key.isEmpty else {
            throw CoreError(.systemError, "the webhook secret is not a base64 key (whsec_<base64>)")
        }
        let content = Array("\(id).\(timestamp).".utf8) + body
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBytes { keyBytes in
            content.withUnsafeBytes { contentBytes in
                digest.withUnsafeMutableBytes { out in
                    _ = HMAC(
                        EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count),
                        contentBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), contentBytes.count,
                        out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length)
                }
            }
        }
        return "v1," + Data(digest.prefix(Int(length))).base64EncodedString()
    }
}
