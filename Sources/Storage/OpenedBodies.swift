// Message bodies this Store has already authenticated, kept with their conversation's cached data key.
//
// The chat server re-reads the last turns of a conversation for every message it sends, so nearly
// every history read opens rows it opened (or sealed) a moment before. Opening a 400-byte body costs
// more than reading its row from SQLite; the memo removes that repeat work the way SQLCipher's
// decrypted page cache does, without trusting anything on disk:
//
// - An entry holds the exact sealed bytes it was opened from (or that this Store wrote) together with
//   the row identity the AAD binds (conversation, seq, role). AES-GCM opening is a function of key,
//   AAD and sealed bytes, so a row whose role and sealed bytes are byte-for-byte those of the entry
//   opens to the entry's plaintext; any other row (tampered, copied, re-sealed) misses and is opened,
//   and authenticated, afresh.
// - The memo lives inside the `DataKey` it was opened under: a re-wrapped or tampered wrapped key
//   brings a fresh key entry with an empty memo, and evicting, deleting (crypto-shred) or closing
//   drops the memo with the key. Plaintext bytes are zeroed when an entry is dropped.
// - It is bounded per conversation (the newest `OpenedBodies.slotCount` seqs at most, in a direct-mapped
//   table: no hashing on the read path) and in bytes (`DataKeyCache.openedBudget`).
internal import EnclaveCrypto
internal import Foundation

/// One authenticated message body: the sealed bytes as stored and the plaintext they open to, in one
/// buffer. Not Sendable: it lives inside the Store actor and never leaves it.
final class OpenedBody {
    let seq: Int
    let role: String
    /// The sealed bytes, then the plaintext.
    private var storage: [UInt8]
    private let sealedCount: Int

    /// An entry for a body this Store sealed itself: `sealed` is exactly what it wrote for `plain`.
    init(seq: Int, role: String, sealed: [UInt8], plain: some Collection<UInt8>) {
        self.seq = seq
        self.role = role
        sealedCount = sealed.count
        storage = sealed
        storage.append(contentsOf: plain)
    }

    /// An entry opened from `sealed` by `open`, which fills the plaintext buffer it is given and
    /// returns whether the box authenticated; nil (with the buffer zeroed by `open`) when it did not.
    init?(
        seq: Int, role: String, sealed: UnsafeRawBufferPointer, plaintextCount: Int,
        open: (UnsafeMutableRawBufferPointer) throws -> Bool
    ) rethrows {
        self.seq = seq
        self.role = role
        sealedCount = sealed.count
        var opened = false
        storage = try [UInt8](unsafeUninitializedCapacity: sealed.count + plaintextCount) { buffer, count in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.copyMemory(from: sealed)
            count = buffer.count
            // `open` writes every plaintext byte, or zeroes them all when the box does not authenticate.
            let plain = UnsafeMutableRawBufferPointer(rebasing: raw[sealed.count...])
            opened = try open(plain)
        }
        guard opened else { return nil }
    }

    deinit { secureZero(&storage) }

    /// Bytes of memory the entry accounts for.
    var size: Int { storage.count + role.utf8.count }

    /// The plaintext.
    var text: String {
        storage.withUnsafeBytes {
            String(decoding: UnsafeRawBufferPointer(rebasing: $0[sealedCount...]), as: UTF8.self)
        }
    }

    /// The plaintext, if this entry was made from exactly `role` and `stored`.
    func text(role: String, stored: UnsafeRawBufferPointer) -> String? {
        guard role == self.role,
            storage.withUnsafeBytes({ sameBytes(UnsafeRawBufferPointer(rebasing: $0[..<sealedCount]), stored) })
        else { return nil }
        return text
    }
}

/// Whether two buffers hold the same bytes (sealed bytes are not secret: no constant time needed).
func sameBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    guard let x = a.baseAddress, let y = b.baseAddress else { return true }
    return memcmp(x, y, a.count) == 0
}

/// The opened bodies of one conversation: a direct-mapped table by `seq`, so a history read finds
/// each row's entry with one index and one comparison.
struct OpenedBodies {
    /// Table size: a history read of up to this many consecutive messages can be served whole.
    static let slotCount = 128
    private var slots: [OpenedBody?] = []
    /// The sum of the entries' sizes.
    private(set) var bytes = 0

    /// How many bodies are remembered.
    var count: Int { slots.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// The plaintext of message `seq` when the stored row (`role`, `stored`) is the one remembered.
    func recall(seq: Int, role: String, stored: UnsafeRawBufferPointer) -> String? {
        guard !slots.isEmpty, let entry = slots[seq & (Self.slotCount - 1)], entry.seq == seq else { return nil }
        return entry.text(role: role, stored: stored)
    }

    /// Remembers `body` in its slot (replacing the one there); when the memo would grow past `limit`
    /// bytes it starts over.
    mutating func remember(_ body: OpenedBody, limit: Int) {
        guard body.size <= limit else { return }
        let slot = body.seq & (Self.slotCount - 1)
        if let old = slots.isEmpty ? nil : slots[slot] {
            bytes -= old.size
            slots[slot] = nil
        }
        if bytes + body.size > limit { removeAll() }
        if slots.isEmpty { slots = Array(repeating: nil, count: Self.slotCount) }
        slots[slot] = body
        bytes += body.size
    }

    mutating func removeAll() {
        slots = []
        bytes = 0
    }
}
