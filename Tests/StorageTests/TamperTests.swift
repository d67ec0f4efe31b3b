import EnclaveCrypto
// Done-when 2 and 3: a flipped bit in a nonce, ciphertext, tag or wrapped key makes that read fail
// with an integrity error naming the row, while every other conversation still opens; a sealed body
// or title copied to another row or conversation does not open.
import EnclaveTestSupport
import Foundation
import Storage
import Testing

@Suite("Tamper")
struct TamperTests {
    /// 12 conversations × 4 messages; returns ids and the opened histories.
    func setUp(_ store: Store) async throws -> [ConversationID] {
        var ids: [ConversationID] = []
        for c in 0..<12 {
            let id = try await store.createConversation(owner: "alice", title: "title \(c)")
            for m in 0..<4 {
                _ = try await store.append(
                    NewMessage(role: m % 2 == 0 ? "user" : "assistant", body: "body \(c).\(m)"), to: id)
            }
            ids.append(id)
        }
        return ids
    }

    @Test("1,000 single-bit flips: the read fails naming the row; the rest still opens")
    func bitFlips() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("t.sqlite")
        let store = try Store(path: path, keyRing: makeKeyRing())
        let ids = try await setUp(store)
        let raw = try SQLiteConnection(path: path)
        var random = SplitMix64(seed: 0x7A3F)
        for _ in 0..<1000 {
            let victim = ids.randomElement(using: &random)!
            let inKey = Bool.random(using: &random)
            let seq = Int.random(in: 1...4, using: &random)
            let (select, update, values): (String, String, [any SQLiteBindable]) =
                inKey
                ? (
                    "SELECT wrapped_key FROM conversations WHERE id = ?",
                    "UPDATE conversations SET wrapped_key = ? WHERE id = ?",
                    [victim.rawValue]
                )
                : (
                    "SELECT body FROM messages WHERE conversation_id = ? AND seq = ?",
                    "UPDATE messages SET body = ? WHERE conversation_id = ? AND seq = ?", [victim.rawValue, seq]
                )
            let original = try #require(try raw.query(select, values).first?[0].bytes)
            // Nonce (first 12 bytes), ciphertext, or tag (last 16): any bit of the sealed box.
            let bit = Int.random(in: 0..<(original.count * 8), using: &random)
            var flipped = original
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            try raw.run(update, [flipped] + values)

            let error = await #expect(throws: StoreError.self) { try await store.history(victim) }
            #expect(error?.code == .integrity)
            let row = inKey ? "conversations row \(victim)" : "messages row \(victim)/\(seq)"
            #expect(error?.message.contains(row) == true, "\(error?.message ?? "") should name \(row)")
            let bystander = ids.first { $0 != victim }!
            #expect(try await store.history(bystander).count == 4)
            try raw.run(update, [original] + values)
        }
        for id in ids { #expect(try await store.history(id).count == 4) }
    }

    @Test("a body copied to another row, another conversation, or a wrapped key swapped, does not open")
    func swapAndReplay() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("t.sqlite")
        let store = try Store(path: path, keyRing: makeKeyRing())
        let ids = try await setUp(store)
        let raw = try SQLiteConnection(path: path)
        let body = { (id: ConversationID, seq: Int) throws -> [UInt8] in
            try raw.query("SELECT body FROM messages WHERE conversation_id = ? AND seq = ?", [id.rawValue, seq]).first![
                0
            ].bytes!
        }
        // Same conversation, same role, other row (seq 1 → seq 3, both "user").
        try raw.run(
            "UPDATE messages SET body = ? WHERE conversation_id = ? AND seq = 3",
            [try body(ids[0], 1), ids[0].rawValue])
        var error = await #expect(throws: StoreError.self) { try await store.history(ids[0]) }
        #expect(error?.code == .integrity && error?.message.contains("\(ids[0])/3") == true)
        // Another conversation.
        try raw.run(
            "UPDATE messages SET body = ? WHERE conversation_id = ? AND seq = 1",
            [try body(ids[2], 1), ids[1].rawValue])
        error = await #expect(throws: StoreError.self) { try await store.history(ids[1]) }
        #expect(error?.code == .integrity && error?.message.contains("\(ids[1])/1") == true)
        // A title moved to another conversation.
        let title = try raw.query("SELECT title FROM conversations WHERE id = ?", [ids[3].rawValue]).first![0]
        try raw.run("UPDATE conversations SET title = ? WHERE id = ?", [title, ids[4].rawValue])
        error = await #expect(throws: StoreError.self) { try await store.conversation(ids[4]) }
        #expect(error?.code == .integrity)
        // Wrapped data keys swapped between two conversations.
        let k5 = try raw.query("SELECT wrapped_key FROM conversations WHERE id = ?", [ids[5].rawValue]).first![0]
        let k6 = try raw.query("SELECT wrapped_key FROM conversations WHERE id = ?", [ids[6].rawValue]).first![0]
        try raw.run("UPDATE conversations SET wrapped_key = ? WHERE id = ?", [k6, ids[5].rawValue])
        try raw.run("UPDATE conversations SET wrapped_key = ? WHERE id = ?", [k5, ids[6].rawValue])
        await #expect(throws: StoreError.self) { try await store.history(ids[5]) }
        await #expect(throws: StoreError.self) { try await store.history(ids[6]) }
        // Untouched conversations are fine.
        #expect(try await store.history(ids[7]).map(\.body) == ["body 7.0", "body 7.1", "body 7.2", "body 7.3"])
    }
}
