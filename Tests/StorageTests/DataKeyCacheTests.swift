// The Store's bounded cache of unwrapped data keys: it never holds more than its capacity, evicts
// the least recently used key, and answers only for the exact wrapped bytes and master version a key
// was unwrapped from (so a re-wrapped or tampered wrapped key is unwrapped afresh).
import EnclaveCrypto
import Testing

@testable import Storage

@Suite("Data key cache")
struct DataKeyCacheTests {
    func id(_ n: Int) -> ConversationID {
        ConversationID(rawValue: String(repeating: "0", count: 20 - String(n, radix: 16).count) + String(n, radix: 16))!
    }

    func entry(_ byte: UInt8, version: Int = 1) throws -> DataKey {
        DataKey(
            key: try SymmetricKey.random(), owner: "alice", wrapped: [UInt8](repeating: byte, count: 60),
            version: version)
    }

    @Test("bounded: the least recently used key goes first")
    func evictsLeastRecentlyUsed() throws {
        var cache = DataKeyCache(capacity: 3)
        for n in 0..<3 { cache.insert(try entry(UInt8(n)), for: id(n)) }
        let wrapped0 = [UInt8](repeating: 0, count: 60)
        #expect(wrapped0.withUnsafeBytes { cache.lookup(id(0), owner: "alice", wrapped: $0, version: 1) } != nil)
        cache.insert(try entry(3), for: id(3))  // evicts id(1), the least recently used
        #expect(cache.count == 3)
        for (n, present) in [(0, true), (1, false), (2, true), (3, true)] {
            let wrapped = [UInt8](repeating: UInt8(n), count: 60)
            #expect(
                (wrapped.withUnsafeBytes { cache.lookup(id(n), owner: "alice", wrapped: $0, version: 1) } != nil)
                    == present)
        }
        for n in 4..<100 { cache.insert(try entry(UInt8(n)), for: id(n)) }
        #expect(cache.count == 3)
    }

    @Test("a different wrapped form or master version is a miss")
    func exactMatchOnly() throws {
        var cache = DataKeyCache(capacity: 8)
        cache.insert(try entry(7, version: 1), for: id(1))
        var wrapped = [UInt8](repeating: 7, count: 60)
        #expect(wrapped.withUnsafeBytes { cache.lookup(id(1), owner: "alice", wrapped: $0, version: 2) } == nil)
        #expect(wrapped.withUnsafeBytes { cache.lookup(id(2), owner: "alice", wrapped: $0, version: 1) } == nil)
        // The owner is bound into the wrapping AAD: a changed owner column must unwrap afresh (and fail).
        #expect(wrapped.withUnsafeBytes { cache.lookup(id(1), owner: "mallory", wrapped: $0, version: 1) } == nil)
        #expect(wrapped.withUnsafeBytes { cache.lookup(id(1), owner: "alice", wrapped: $0, version: 1) } != nil)
        wrapped[59] ^= 1
        #expect(wrapped.withUnsafeBytes { cache.lookup(id(1), owner: "alice", wrapped: $0, version: 1) } == nil)
        let short = Array(wrapped.prefix(59))
        #expect(short.withUnsafeBytes { cache.lookup(id(1), owner: "alice", wrapped: $0, version: 1) } == nil)
        cache.remove(id(1))
        #expect(cache.count == 0)
    }
}
