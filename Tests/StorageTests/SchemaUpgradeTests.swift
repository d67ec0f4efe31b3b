// The upgrade from schema 1 (no owner binding, no sealed counts, no user MACs) to schema 2. The schema-1
// database is written here from its specification, with EnclaveCrypto's primitives and an AAD encoder
// of our own (domain tag, then each field as a 4-byte big-endian length and its bytes), not with the
// Store: so the test fails if the Store stops reading what earlier releases wrote.
import EnclaveCrypto
import Foundation
import Testing

@testable import Storage

@Suite("Schema upgrade")
struct SchemaUpgradeTests {
    /// Schema 1's AAD: "enclave-aad-v1", then table, row, conversation, role, key version as fields.
    static func aadV1(_ fields: [String]) -> [UInt8] {
        var out = Array("enclave-aad-v1".utf8)
        for field in fields {
            let bytes = Array(field.utf8)
            let n = UInt32(bytes.count)
            out += [UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)] + bytes
        }
        return out
    }

    /// Writes a schema-1 database: one user, `conversations` conversations of `messages` messages each.
    static func writeSchema1(
        _ path: String, master: SymmetricKey, ring: KeyRing, conversations: Int, messages: Int
    ) throws -> [ConversationID] {
        let db = try SQLiteConnection(path: path)
        try db.migrate(Array(Schema.migrations.prefix(1)))
        #expect(try db.userVersion() == 1)
        try db.run(
            "INSERT INTO master_keys (version, check_value, state, created) VALUES (1, ?, 'active', 0)",
            [try ring.checkValue(version: 1) ?? []])
        try db.run(
            """
            INSERT INTO users (name, role, groups_list, password_hash, disabled, failed_attempts, locked_until)
            VALUES ('clerk', 'staff', 'ward-3', 'scrypt$placeholder', 0, 2, NULL)
            """)
        let wrapping = try HKDFSHA256.deriveKey(from: master, salt: [], info: Array("enclave/data-key-wrap/v1".utf8))
        var ids: [ConversationID] = []
        for c in 0..<conversations {
            let id = ConversationID(rawValue: String(format: "%020x", c + 1))!
            let dataKey = try SymmetricKey.random()
            let seal = { (text: String, fields: [String]) throws -> [UInt8] in
                try AESGCM.seal(Array(text.utf8), key: dataKey, aad: aadV1(fields)).combined
            }
            let conv = ["conversations", id.rawValue, id.rawValue]
            try db.run(
                """
                INSERT INTO conversations (id, owner, title, tags, wrapped_key, key_version, created, updated)
                VALUES (?, 'clerk', ?, ?, ?, 1, 0, ?)
                """,
                [
                    id.rawValue, try seal("title \(c)", conv + ["title", "1"]), try seal("", conv + ["tags", "1"]),
                    try KeyWrap.wrap(dataKey, under: wrapping, aad: aadV1(conv + ["data-key", "1"])), Double(c),
                ])
            for seq in 1...messages {
                let role = seq % 2 == 1 ? "user" : "assistant"
                try db.run(
                    "INSERT INTO messages (conversation_id, seq, role, body, created) VALUES (?, ?, ?, ?, 0)",
                    [
                        id.rawValue, seq, role,
                        try seal("m\(c).\(seq)", ["messages", "\(id.rawValue)/\(seq)", id.rawValue, role, "1"]),
                    ])
            }
            ids.append(id)
        }
        return ids
    }

    @Test("a schema-1 database opens: rows read as before, and are bound from then on")
    func upgradesSchema1() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("v1.sqlite")
        let master = try SymmetricKey.random()
        let ring = try KeyRing(keys: [1: master])
        let ids = try Self.writeSchema1(path, master: master, ring: ring, conversations: 3, messages: 5)

        let store = try Store(path: path, keyRing: ring)
        let raw = try SQLiteConnection(path: path)
        #expect(try raw.userVersion() == Schema.migrations.count)
        for (c, id) in ids.enumerated() {
            #expect(try await store.history(id).map(\.body) == (1...5).map { "m\(c).\($0)" })
            #expect(try await store.conversation(id)?.messageCount == 5)
            #expect(try await store.conversation(id)?.title == "title \(c)")
        }
        let clerk = try #require(try await store.user(named: "clerk"))
        #expect(clerk.groups == ["ward-3"] && clerk.failedAttempts == 2 && clerk.role == .staff)
        #expect(try await store.append(NewMessage(role: "user", body: "new"), to: ids[0]) == 6)

        // Bound now: the same tampering as on a new database is refused.
        try raw.run("UPDATE users SET role = 'admin' WHERE name = 'clerk'")
        await #expect(throws: StoreError.self) { try await store.user(named: "clerk") }
        try raw.run("UPDATE conversations SET owner = 'nurse' WHERE id = ?", [ids[1].rawValue])
        await #expect(throws: StoreError.self) { try await store.history(ids[1]) }
        try raw.run("DELETE FROM messages WHERE conversation_id = ? AND seq = 3", [ids[2].rawValue])
        await #expect(throws: StoreError.self) { try await store.history(ids[2]) }
        #expect(try await store.history(ids[0]).count == 6)
    }

    @Test("a schema-1 row that was already tampered is not blessed by the upgrade")
    func tamperedBeforeUpgrade() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("v1.sqlite")
        let master = try SymmetricKey.random()
        let ring = try KeyRing(keys: [1: master])
        let ids = try Self.writeSchema1(path, master: master, ring: ring, conversations: 2, messages: 2)
        let raw = try SQLiteConnection(path: path)
        // A wrapped key copied from another conversation: it never authenticated, and must not start to.
        let other = try raw.query("SELECT wrapped_key FROM conversations WHERE id = ?", [ids[1].rawValue]).first![0]
        try raw.run("UPDATE conversations SET wrapped_key = ? WHERE id = ?", [other, ids[0].rawValue])
        let store = try Store(path: path, keyRing: ring)
        let error = await #expect(throws: StoreError.self) { try await store.history(ids[0]) }
        #expect(error?.code == .integrity)
        #expect(try await store.history(ids[1]).count == 2)
    }
}
