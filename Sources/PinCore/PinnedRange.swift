import LinuxFS

/// The kernel resources that make a pin: a shared mapping of the range, faulted in and
/// mlocked, and optionally a long-term pin of it. Releasing the last reference unregisters
/// the long-term pin, then unmaps (which also unlocks) the range.
final class PinnedRange: Sendable {
    let mapping: MemoryMapping
    let longTermPin: LongTermPin?
    /// Why there is no long-term pin although one was asked for.
    let longTermReason: String?
    /// Why the mapping is not `MAP_SYNC`.
    let mapSyncReason: String?

    init(mapping: MemoryMapping, longTermPin: LongTermPin?, longTermReason: String?, mapSyncReason: String?) {
        self.mapping = mapping
        self.longTermPin = longTermPin
        self.longTermReason = longTermReason
        self.mapSyncReason = mapSyncReason
    }

    /// Bytes of the range resident in memory now (mincore).
    var residentBytes: UInt64 { (try? mapping.residentBytes()) ?? 0 }
}
