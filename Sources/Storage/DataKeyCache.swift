// A small, bounded cache of unwrapped data keys, owned by the Store actor.
//
// Reading a history used to unwrap the conversation's data key (one AES-GCM open under the master
// wrapping key) and expand a fresh AES key schedule on every call. The cache keeps, per recently used
// conversation, the unwrapped key and one cipher context already keyed with it. An entry is used only
// while the row's wrapped key, master version and owner are exactly the ones it was unwrapped with, so
// a re-wrapped (rotated) or tampered wrapped key is unwrapped, and authenticated, afresh. Evicted
// entries, a deleted conversation's entry and the whole cache when the Store goes away release their
// keys: `SymmetricKey` cleanses its bytes and the cipher context its key schedule when freed.
// Each entry also carries the memo of message bodies opened under its key (OpenedBodies.swift); the
// cache bounds the memos' total size and drops them with their keys.
internal import EnclaveCrypto

/// One conversation's unwrapped data key and its reusable encryption and decryption contexts.
/// Not Sendable: it lives inside the Store actor and never leaves it.
final class DataKey {
    let key: SymmetricKey
    /// The owner bound into the wrapping AAD it was unwrapped with.
    let owner: String
    /// The wrapped form it was unwrapped from, and that form's master version.
    let wrapped: [UInt8]
    let version: Int
    /// The sealed message count last opened under this key, and its value (Store+Integrity.swift).
    var count: (sealed: [UInt8], count: Int)?
    fileprivate var lastUse: UInt64 = 0
    /// Whether the cache holds this entry now (memos grow only on held entries).
    fileprivate var held = false
    private var cachedOpener: AESGCM.Opener?
    private var cachedSealer: AESGCM.Sealer?
    /// Bodies already authenticated under this key (grown only through `DataKeyCache.remember`).
    fileprivate(set) var opened = OpenedBodies()
    /// The last `OpenedBodies.unretainedEntries` line sample: stored so that the loads producing it are
    /// not optimized away. Its value means nothing.
    private var lineSample: UInt8 = 0

    init(key: SymmetricKey, owner: String, wrapped: [UInt8], version: Int) {
        self.key = key
        self.owner = owner
        self.wrapped = wrapped
        self.version = version
    }

    /// The remembered entries for seqs `newest`, `newest - 1`, ... (`count` of them), unretained, with
    /// their bytes on their way into the CPU cache: see `OpenedBodies.unretainedEntries`, whose rule
    /// (the memo must not change while they are in use) the caller keeps.
    func rememberedEntries(newest: Int, count: Int) -> [Unmanaged<OpenedBody>?] {
        let gathered = opened.unretainedEntries(newest: newest, count: count)
        lineSample = gathered.lineSample
        return gathered.entries
    }

    /// A decryption context keyed with this data key (its key schedule computed once).
    func opener() throws -> AESGCM.Opener {
        if let cachedOpener { return cachedOpener }
        let opener = try AESGCM.Opener(key: key)
        cachedOpener = opener
        return opener
    }

    /// An encryption context keyed with this data key (its key schedule computed once): every append
    /// seals a body and a count, and no longer pays a context and a key expansion for each.
    func sealer() throws -> AESGCM.Sealer {
        if let cachedSealer { return cachedSealer }
        let sealer = try AESGCM.Sealer(key: key)
        cachedSealer = sealer
        return sealer
    }
}

/// Recently used data keys, at most `capacity` of them; the least recently used is evicted first.
struct DataKeyCache {
    let capacity: Int
    /// The most bytes the memos of opened bodies may hold, per conversation and in total.
    let openedBudget: (perConversation: Int, total: Int)
    private var entries: [ConversationID: DataKey] = [:]
    private var clock: UInt64 = 0
    /// The sum of every entry's memo size.
    private(set) var openedBytes = 0

    init(capacity: Int, openedBudget: (perConversation: Int, total: Int) = (256 << 10, 16 << 20)) {
        self.capacity = max(1, capacity)
        self.openedBudget = openedBudget
    }

    /// Number of keys held (for tests).
    var count: Int { entries.count }

    /// The cached key of `id`, if it was unwrapped from exactly `wrapped` under `version` for `owner`.
    mutating func lookup(_ id: ConversationID, owner: String, wrapped: UnsafeRawBufferPointer, version: Int)
        -> DataKey?
    {
        guard let entry = entries[id], entry.version == version, entry.owner == owner,
            entry.wrapped.withUnsafeBytes({ sameBytes($0, wrapped) })
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
            remove(oldest)
        }
        remove(id)
        clock += 1
        key.lastUse = clock
        openedBytes += key.opened.bytes
        key.held = true
        entries[id] = key
    }

    /// Remembers `body` as a message opened under `key`, then trims the
    /// memos of the least recently used keys while the total is over budget. Nothing is remembered
    /// when the cache no longer holds `key` (evicted or replaced meanwhile).
    mutating func remember(_ body: OpenedBody, in key: DataKey) {
        guard key.held else { return }
        let before = key.opened.bytes
        key.opened.remember(body, limit: openedBudget.perConversation)
        openedBytes += key.opened.bytes - before
        guard openedBytes > openedBudget.total else { return }
        for entry in entries.values.sorted(by: { $0.lastUse < $1.lastUse }) where entry !== key {
            openedBytes -= entry.opened.bytes
            entry.opened.removeAll()
            if openedBytes <= openedBudget.total { return }
        }
    }

    /// Drops every memo of opened bodies and message counts, keeping the keys (the benchmark's cold reads).
    mutating func forgetOpened() {
        for entry in entries.values {
            entry.opened.removeAll()
            entry.count = nil
        }
        openedBytes = 0
    }

    /// Forgets the key of `id` (its conversation was deleted, or a new form replaces it).
    mutating func remove(_ id: ConversationID) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        entry.held = false
        openedBytes -= entry.opened.bytes
    }

    /// Forgets every key.
    mutating func removeAll() {
        for entry in entries.values { entry.held = false }
        entries.removeAll()
        openedBytes = 0
    }
}
