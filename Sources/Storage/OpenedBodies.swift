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

/// One authenticated message body: the sealed bytes as stored and the plaintext they open to, in the
/// same single allocation as the entry's header. A warm history read touches every remembered row it
/// returns, and these entries are seldom in the CPU cache by then: one allocation means one chain of
/// memory loads per row (slot, entry) instead of three (slot, object, separate byte array), and bytes
/// the hardware prefetcher can stream. Not Sendable: it lives inside the Store actor and never leaves it.
final class OpenedBody: ManagedBuffer<OpenedBodyHeader, UInt8> {
    typealias Header = OpenedBodyHeader

    /// An entry for a body this Store sealed itself: `sealed` is exactly what it wrote for `plain`.
    static func make(seq: Int, role: String, sealed: [UInt8], plain: some Collection<UInt8>) -> OpenedBody {
        let body = allocate(seq: seq, role: role, sealedCount: sealed.count, plainCount: plain.count)
        body.withUnsafeMutablePointerToElements { bytes in
            let buffer = UnsafeMutableBufferPointer(start: bytes, count: sealed.count + plain.count)
            _ = UnsafeMutableBufferPointer(rebasing: buffer[..<sealed.count]).initialize(from: sealed)
            _ = UnsafeMutableBufferPointer(rebasing: buffer[sealed.count...]).initialize(from: plain)
        }
        return body
    }

    /// An entry opened from `sealed` by `open`, which fills the plaintext buffer it is given and
    /// returns whether the box authenticated; nil (with the buffer zeroed by `open`) when it did not.
    static func make(
        seq: Int, role: String, sealed: UnsafeRawBufferPointer, plaintextCount: Int,
        open: (UnsafeMutableRawBufferPointer) throws -> Bool
    ) rethrows -> OpenedBody? {
        let body = allocate(seq: seq, role: role, sealedCount: sealed.count, plainCount: plaintextCount)
        // `open` writes every plaintext byte, or zeroes them all when the box does not authenticate.
        let opened = try body.withUnsafeMutablePointerToElements { bytes in
            let raw = UnsafeMutableRawBufferPointer(start: bytes, count: sealed.count + plaintextCount)
            raw.copyMemory(from: sealed)
            return try open(UnsafeMutableRawBufferPointer(rebasing: raw[sealed.count...]))
        }
        return opened ? body : nil
    }

    /// A new entry with room for both forms (plain bytes: `deinit` zeroes the whole range whether or not
    /// it was ever filled).
    private static func allocate(seq: Int, role: String, sealedCount: Int, plainCount: Int) -> OpenedBody {
        let buffer = create(minimumCapacity: sealedCount + plainCount) { _ in
            Header(seq: seq, role: role, sealedCount: sealedCount, plainCount: plainCount)
        }
        return unsafeDowncast(buffer, to: OpenedBody.self)
    }

    // The header is a stored property and goes by itself; the bytes are plain memory, zeroed here.
    deinit {
        withUnsafeMutablePointers { header, bytes in
            let count = header.pointee.sealedCount + header.pointee.plainCount
            secureZero(UnsafeMutableRawBufferPointer(start: bytes, count: count))
        }
    }

    var seq: Int { withUnsafeMutablePointerToHeader { $0.pointee.seq } }

    /// One byte from each cache line of the entry's bytes, combined. Reading them asks the memory system
    /// for all of the entry's lines at once (no load depends on another), so the comparison and the copy
    /// of a warm read find them in the cache instead of waiting for each line in turn.
    var lineSample: UInt8 {
        withUnsafeMutablePointers { header, bytes in
            var sample: UInt8 = 0
            for offset in stride(from: 0, to: header.pointee.sealedCount + header.pointee.plainCount, by: 64) {
                sample ^= bytes[offset]
            }
            return sample
        }
    }

    /// Bytes of memory the entry accounts for.
    var size: Int {
        withUnsafeMutablePointerToHeader { $0.pointee.sealedCount + $0.pointee.plainCount + $0.pointee.role.utf8.count }
    }

    /// The plaintext.
    var text: String {
        withUnsafeMutablePointers { header, bytes in
            let plain = UnsafeBufferPointer(start: bytes + header.pointee.sealedCount, count: header.pointee.plainCount)
            return String(decoding: plain, as: UTF8.self)
        }
    }

    /// The plaintext, if this entry was made from exactly `role` and `stored`.
    func text(role: String, stored: UnsafeRawBufferPointer) -> String? {
        let same = withUnsafeMutablePointers { header, bytes in
            role == header.pointee.role
                && sameBytes(UnsafeRawBufferPointer(start: bytes, count: header.pointee.sealedCount), stored)
        }
        return same ? text : nil
    }
}

/// What an `OpenedBody` knows besides its bytes.
struct OpenedBodyHeader {
    let seq: Int
    let role: String
    /// The entry's first `sealedCount` bytes are the sealed form, the next `plainCount` the plaintext.
    let sealedCount: Int
    let plainCount: Int
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

    /// The entries remembered for seqs `newest`, `newest - 1`, ... (`count` of them, nil where there is
    /// none), for a history read to consult row by row. Gathered before SQLite is stepped, the entries'
    /// first cache lines are fetched together (each load here is independent of the others), instead of
    /// one at a time behind SQLite's work for each row. The references are not retained: a retain is an
    /// atomic write to the entry, which would make each load wait for the one before it, and another to
    /// release it afterwards. They stay valid only while this memo is not changed, so the caller must
    /// not remember, drop or forget entries until it is done with them.
    func unretainedEntries(newest: Int, count: Int) -> (entries: [Unmanaged<OpenedBody>?], lineSample: UInt8) {
        guard !slots.isEmpty, count > 0 else { return ([], 0) }
        var found: [Unmanaged<OpenedBody>?] = []
        found.reserveCapacity(count)
        var sample: UInt8 = 0
        slots.withUnsafeBytes { table in
            for seq in stride(from: newest, to: newest - count, by: -1) {
                // A slot read as a bare pointer takes no reference (an optional class reference is one
                // pointer, nil being zero); reading it as `OpenedBody?` would retain and release it.
                let slot = (seq & (Self.slotCount - 1)) * MemoryLayout<OpenedBody?>.stride
                let entry = table.load(fromByteOffset: slot, as: UnsafeRawPointer?.self).map {
                    Unmanaged<OpenedBody>.fromOpaque($0)
                }
                let same = entry?._withUnsafeGuaranteedRef { body in
                    guard body.seq == seq else { return false }
                    sample ^= body.lineSample
                    return true
                }
                found.append(same == true ? entry : nil)
            }
        }
        return (found, sample)
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
