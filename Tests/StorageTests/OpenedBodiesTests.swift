// The memo of authenticated message bodies (OpenedBodies.swift): a body is decrypted at most once per
// Store while its row stays byte-for-byte the same, yet any change on disk (a flipped bit, another
// role, a body copied in) is opened afresh and fails; the memo stays within its budgets and goes with
// its data key.
import EnclaveCrypto
import EnclaveTestSupport
import Foundation
import Testing

@testable import Storage

@Suite("Opened bodies")
struct OpenedBodiesTests {
    func fill(_ store: Store, messages: Int) async throws -> ConversationID {
        let id = try await store.createConversation(owner: "alice", title: "memo")
        for m in 0..<messages {
            _ = try await store.append(NewMessage(role: m % 2 == 0 ? "user" : "assistant", body: "body \(m)"), to: id)
        }
        return id
    }

    @Test("bodies a Store wrote or opened are not decrypted again; another Store decrypts each once")
    func decryptsOnce() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("m.sqlite")
        let ring = try makeKeyRing()
        let writer = try Store(path: path, keyRing: ring)
        let id = try await fill(writer, messages: 10)
        let expected = (0..<10).map { "body \($0)" }
        #expect(try await writer.history(id).map(\.body) == expected)
        #expect(await writer.bodiesDecrypted == 0)

        let reader = try Store(path: path, keyRing: ring)
        #expect(try await reader.history(id, limit: 4).map(\.body) == Array(expected.suffix(4)))
        #expect(await reader.bodiesDecrypted == 4)
        #expect(try await reader.history(id).map(\.body) == expected)
        #expect(await reader.bodiesDecrypted == 10)
        #expect(try await reader.history(id).map(\.body) == expected)
        #expect(await reader.bodiesDecrypted == 10)
        #expect(await reader.openedBodyBytes > 0)

        await reader.forgetOpenedBodies()
        #expect(await reader.openedBodyBytes == 0)
        #expect(try await reader.history(id).map(\.body) == expected)
        #expect(await reader.bodiesDecrypted == 20)
    }

    @Test("a remembered row changed on disk is opened afresh and fails: a bit, the role, a copied body")
    func changesOnDiskAreNeverServedFromTheMemo() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("m.sqlite")
        let store = try Store(path: path, keyRing: makeKeyRing())
        let id = try await fill(store, messages: 6)
        _ = try await store.history(id)
        let raw = try SQLiteConnection(path: path)
        let select = "SELECT body, role FROM messages WHERE conversation_id = ? AND seq = ?"
        var random = SplitMix64(seed: 0x0DE5)
        for trial in 0..<200 {
            let seq = Int.random(in: 1...6, using: &random)
            let row = try #require(try raw.query(select, [id.rawValue, seq]).first)
            let original = try #require(row[0].bytes), role = try #require(row[1].string)
            switch trial % 3 {
            case 0:
                var flipped = original
                let bit = Int.random(in: 0..<(original.count * 8), using: &random)
                flipped[bit / 8] ^= 1 << UInt8(bit % 8)
                try raw.run(
                    "UPDATE messages SET body = ? WHERE conversation_id = ? AND seq = ?", [flipped, id.rawValue, seq])
            case 1:
                try raw.run(
                    "UPDATE messages SET role = ? WHERE conversation_id = ? AND seq = ?",
                    [role == "user" ? "assistant" : "user", id.rawValue, seq])
            default:
                let other = seq % 6 + 1
                let copied = try #require(try raw.query(select, [id.rawValue, other]).first?[0].bytes)
                try raw.run(
                    "UPDATE messages SET body = ? WHERE conversation_id = ? AND seq = ?", [copied, id.rawValue, seq])
            }
            let error = await #expect(throws: StoreError.self) { try await store.history(id) }
            #expect(error?.code == .integrity && error?.message.contains("\(id)/\(seq)") == true, "trial \(trial)")
            try raw.run(
                "UPDATE messages SET body = ?, role = ? WHERE conversation_id = ? AND seq = ?",
                [original, role, id.rawValue, seq])
            #expect(try await store.history(id).map(\.body) == (0..<6).map { "body \($0)" })
        }
    }

    @Test("a read whose opened rows overflow the memo returns every body; hits stay hits, the rest is opened")
    func readsThatOverflowTheMemo() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("m.sqlite")
        let ring = try makeKeyRing()
        let writer = try Store(path: path, keyRing: ring)
        let id = try await writer.createConversation(owner: "alice")
        // 3000-byte bodies: an entry holds about 6 KB, so fewer than 50 fit in a conversation's 256 KB
        // budget, and remembering what one full read opens starts the memo over more than once.
        let messages = OpenedBodies.slotCount + 40
        let expected = (1...messages).map { "\($0) " + String(repeating: "x", count: 3000) }
        for body in expected { _ = try await writer.append(NewMessage(role: "user", body: body), to: id) }

        let reader = try Store(path: path, keyRing: ring)
        #expect(try await reader.history(id, limit: 10).map(\.body) == Array(expected.suffix(10)))
        #expect(await reader.bodiesDecrypted == 10)
        // The ten newest come from the memo; every other row is opened, and its body is the one written.
        #expect(try await reader.history(id).map(\.body) == expected)
        #expect(await reader.bodiesDecrypted == messages)
        for _ in 0..<3 {
            let before = await reader.bodiesDecrypted
            #expect(try await reader.history(id).map(\.body) == expected)
            let opened = await reader.bodiesDecrypted - before
            #expect(opened > 0 && opened <= messages)
            #expect(await reader.openedBodyBytes <= 256 << 10)
        }
    }

    @Test("deleting a conversation drops its remembered bodies")
    func deleteDropsTheMemo() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("m.sqlite"), keyRing: makeKeyRing())
        let kept = try await fill(store, messages: 3)
        let before = await store.openedBodyBytes
        let doomed = try await fill(store, messages: 5)
        #expect(await store.openedBodyBytes > before)
        try await store.delete(doomed)
        #expect(await store.openedBodyBytes == before)
        #expect(try await store.history(kept).count == 3)
    }

    func id(_ n: Int) -> ConversationID {
        ConversationID(rawValue: String(repeating: "0", count: 20 - String(n, radix: 16).count) + String(n, radix: 16))!
    }

    func body(_ size: Int, seq: Int) -> OpenedBody {
        OpenedBody.make(
            seq: seq, role: "user", sealed: [UInt8](repeating: 1, count: size),
            plain: [UInt8](repeating: 2, count: size))
    }

    @Test("the table keeps the newest of two seqs sharing a slot, and a different seq in a slot is a miss")
    func directMappedSlots() throws {
        var memo = OpenedBodies()
        let n = OpenedBodies.slotCount
        let stored = [UInt8](repeating: 1, count: 10)
        memo.remember(body(10, seq: 3), limit: 1 << 20)
        memo.remember(body(10, seq: 3 + n), limit: 1 << 20)
        #expect(memo.count == 1 && memo.bytes == 24)
        stored.withUnsafeBytes { raw in
            #expect(memo.recall(seq: 3, role: "user", stored: raw) == nil)
            #expect(memo.recall(seq: 3 + n, role: "user", stored: raw) != nil)
            #expect(memo.recall(seq: 3 + n, role: "assistant", stored: raw) == nil)
            #expect(memo.recall(seq: 4, role: "user", stored: raw) == nil)
        }
    }

    @Test("budgets: one conversation starts over past its limit; past the total the least recent memos go")
    func budgets() throws {
        var cache = DataKeyCache(capacity: 8, openedBudget: (perConversation: 1000, total: 2500))
        var keys: [DataKey] = []
        for n in 0..<4 {
            let key = DataKey(key: try SymmetricKey.random(), owner: "alice", wrapped: [UInt8(n)], version: 1)
            cache.insert(key, for: id(n))
            keys.append(key)
        }
        // 100 + 100 + 4 bytes an entry: four fit under 1000, the fifth starts the memo over.
        for seq in 1...4 { cache.remember(body(100, seq: seq), in: keys[0]) }
        #expect(keys[0].opened.count == 4 && cache.openedBytes == 816)
        cache.remember(body(100, seq: 5), in: keys[0])
        #expect(keys[0].opened.count == 1 && cache.openedBytes == 204)
        // Too large for any memo: not remembered.
        cache.remember(body(600, seq: 1), in: keys[1])
        #expect(keys[1].opened.count == 0)
        // Over the total: the least recently used key's memo goes, not the one being filled.
        for n in 1...3 {
            for seq in 1...4 { cache.remember(body(100, seq: seq), in: keys[n]) }
        }
        #expect(cache.openedBytes <= 2500)
        #expect(keys[0].opened.count == 0 && keys[3].opened.count == 4)
        let sum = keys.map(\.opened.bytes).reduce(0, +)
        #expect(cache.openedBytes == sum)
        // A key no longer cached for its conversation remembers nothing.
        cache.remove(id(3))
        #expect(cache.openedBytes == sum - keys[3].opened.bytes)
        let stale = keys[3].opened.count
        cache.remember(body(10, seq: 9), in: keys[3])
        #expect(keys[3].opened.count == stale)
    }
}
