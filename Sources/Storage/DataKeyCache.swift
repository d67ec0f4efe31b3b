// A small, bounded cache of unwrapped data keys, owned by the Store actor.
//
// Reading a history used to unwrap the conversation's data key (one AES-GCM open under the master
// wrapping key) and expand a fresh AES key schedule on every call. The cache keeps, per recently used
// conversation, the unwrapped key and one cipher context already keyed with it. An entry is used only
// while the row's wrapped key and master version are byte-for-byte the ones it was unwrapped from, so
// a re-wrapped (rotated) or tampered wrapped key is unwrapped, and authenticated, afresh. Evicted
// entries, a deleted conversation's entry and the whole cache when the Store goes away release their
// keys: `SymmetricKey` cleanses its bytes and the cipher context its key schedule when freed.
internal import EnclaveCrypto

/// One conversation's unwrapped data key and its reusable decryption context.
/// Not Sendable: it lives inside the Store actor and never leaves it.
final class DataKey {
    let key: SymmetricKey
    /// The wrapped form it was unwrapped from, and that form's master version.
    let wrapped: [UInt8]
    let version: Int
    fileprivate var lastUse: UInt64 = 0
    private var cachedOpener: AESGCM.Opener?

    init(key: SymmetricKey, wrapped: [UInt8], version: Int) {
        self.key = key
        self.wrapped = wrapped
        self.version = version
    }

    /// A decryption context keyed with this data key (its key schedule computed once).
    func opener() throws -> AESGCM.Opener {
        if let cachedOpener { return cachedOpener }
        let opener = try AESGCM.Opener(key: key)
        cachedOpener = opener
        return opener
    }
}

/// Recently used data keys, at most `capacity` of them; the least recently used is evicted first.
struct DataKeyCache {
    let capacity: Int
    private var entries: [ConversationID: DataKey] = [:]
    private var clock: UInt64 = 0

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Number of keys held (for tests).
    var count: Int { entries.count }

    /// The cached key of `id`, if it was unwrapped from exactly `wrapped` under `version`.
    mutating func lookup(_ id: ConversationID, wrapped: UnsafeRawBufferPointer, version: Int) -> DataKey? {
        guard let entry = entries[id], entry.version == version,
            entry.wrapped.withUnsafeBytes({ $0.elementsEqual(wrapped) })
        else { return nil }
        clock += 1
        entry.lastUse = clock
        return entry
    }

    /// Adds (or replaces) the key of `id`, evicting the least recently used entry when full.
    mutating func insert(_ key: DataKey, for id: ConversationID) {
        if entries[id] == nil, entries.count >= capacity,
            let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
        {
            entries[oldest] = nil
        }
        clock += 1
        key.lastUse = clock
        entries[id] = key
    }

    /// Forgets the key of `id` (its conversation was deleted).
    mutating func remove(_ id: ConversationID) { entries[id] = nil }

    /// Forgets every key.
    mutating func removeAll() { entries.removeAll() }
}
