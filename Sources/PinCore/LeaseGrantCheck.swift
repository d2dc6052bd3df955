/// A grant request that passed ``LeaseBook/checkGrant(_:)``, with the TTL and grace it resolved
/// to. Only that check makes one, so a grant cannot skip it.
struct CheckedGrant: Sendable {
    let request: LeaseGrantRequest
    let ttlSeconds: Int
    let graceSeconds: Int

    fileprivate init(_ request: LeaseGrantRequest, ttlSeconds: Int, graceSeconds: Int) {
        self.request = request
        self.ttlSeconds = ttlSeconds
        self.graceSeconds = graceSeconds
    }
}

/// The one place a grant request is checked: TTL and grace against the policy, the holder name,
/// the webhook URL against the allow list.
extension LeaseBook {
    /// Checks what the lease itself needs, in this order (the first failure is the answer).
    /// It lives in the book, beside the policy and allow list it reads, and not in the
    /// grant: the service calls it before it pins anything for an `auto_pin` grant, so a
    /// request that would be refused never makes (and then tears down) a pin.
    func checkGrant(_ request: LeaseGrantRequest) throws(CoreError) -> CheckedGrant {
        let ttl = try policy.ttl(request.ttlSeconds)
        let grace = try policy.grace(request.graceSeconds)
        try Self.validateHolder(request.holder)
        if let url = request.webhookURL { try allowList.check(url) }
        return CheckedGrant(request, ttlSeconds: ttl, graceSeconds: grace)
    }

    /// Holder names: 1 to 128 characters of letters, digits and `._:@-`.
    static func validateHolder(_ holder: String) throws(CoreError) {
        let allowed = holder.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x3A || byte == 0x40 || byte == 0x2D
        }
        guard !holder.isEmpty, holder.utf8.count <= 128, allowed else {
            throw CoreError(
                .invalidHolder, "holder \(holder.debugDescription) must be 1 to 128 letters, digits or ._:@-",
                extensions: ["holder": .text(holder)])
        }
    }
}
