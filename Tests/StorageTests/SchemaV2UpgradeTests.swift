// Opening a database of the previous release (schema 2: migrations 1 and 2) with this one. The database
// is written here from the released migrations' SQL and from the specification of how release 2 sealed
// and bound its rows (the AAD encoding of `SchemaUpgradeTests.aadV1`; data keys wrapped under an AAD
// naming conversation and owner; the message count sealed under the data key; user rows MAC'd under the
// row key), with EnclaveCrypto's primitives, never through the Store: so the test fails if this release
// stops reading what release 2 wrote, or changes how it is bound.
import EnclaveCrypto
import Foundation
import Testing

@testable import Storage

@Suite("Schema 2 upgrade")
struct SchemaV2UpgradeTests {
    static let aad = SchemaUpgradeTests.aadV1

    /// Writes a schema-2 database: user `clerk` (groups ward-3) owning `conversations` conversations of
    /// `messages` messages each. Returns their ids.
    static func writeSchema2(_ path: String, master: SymmetricKey, ring: KeyRing, conversations: Int, messages: Int)
        throws -> [ConversationID]
    {
        let db = try SQLiteConnection(path: path)
        try db.migrate(Array(Schema.migrations.prefix(2)))
        #expect(try db.userVersion() == 2)
        try db.run(
            "INSERT INTO master_keys (version, check_value, state, created) VALUES (1, ?, 'active', 0)",
            [try ring.checkValue(version: 1) ?? []])
        let rowKey = try HKDFSHA256.deriveKey(from: master, salt: [], info: Array("enclave/row-mac/v1".utf8))
        let user = ["clerk", "staff", "ward-3", "scrypt$placeholder", "0", "1", "-"]
        try db.run(
            """
            INSERT INTO users (name, role, groups_list, password_hash, disabled, failed_attempts, locked_until, mac,
                               mac_version) VALUES ('clerk', 'staff', 'ward-3', 'scrypt$placeholder', 0, 1, NULL, ?, 1)
            """, [try HMACSHA256.authenticate(aad(["users"] + user + ["1"]), key: rowKey)])
        let wrapping = try HKDFSHA256.deriveKey(from: master, salt: [], info: Array("enclave/data-key-wrap/v1".utf8))
        var ids: [ConversationID] = []
        for c in 0..<conversations {
            let id = ConversationID(rawValue: String(format: "%020x", c + 0xabc))!
            let dataKey = try SymmetricKey.random()
            let seal = { (text: String, fields: [String]) throws -> [UInt8] in
                try AESGCM.seal(Array(text.utf8), key: dataKey, aad: aad(fields)).combined
            }
            let row = ["conversations", id.rawValue, id.rawValue]
            try db.run(
                """
                INSERT INTO conversations (id, owner, title, tags, wrapped_key, key_version, created, updated,
                                           message_count) VALUES (?, 'clerk', ?, ?, ?, 1, 0, ?, ?)
                """,
                [
                    id.rawValue, try seal("title \(c)", row + ["title", "1"]), try seal("pci", row + ["tags", "1"]),
                    try KeyWrap.wrap(
                        dataKey, under: wrapping,
                        aad: aad(["conversations", id.rawValue, "clerk", id.rawValue, "data-key+owner", "1"])),
                    Double(c), try seal(String(messages), row + ["message-count", "1"]),
                ])
            for seq in 1...messages {
                let role = seq % 2 == 1 ? "user" : "assistant"
                try db.run(
                    "INSERT INTO messages (conversation_id, seq, role, body, created) VALUES (?, ?, ?, ?, 0)",
                    [
                        id.rawValue, seq, role,
                        try seal("r2 \(c).\(seq)", ["messages", "\(id.rawValue)/\(seq)", id.rawValue, role, "1"]),
                    ])
            }
            ids.append(id)
        }
        return ids
    }

    @Test("a release-2 database opens: rows read as written, then it takes holds, backups and new messages")
    func opensRelease2() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("r2.sqlite")
        let master = try SymmetricKey.random()
        let ring = try KeyRing(keys: [1: master])
        let ids = try Self.writeSchema2(path, master: master, ring: ring, conversations: 3, messages: 4)

        let store = try Store(path: path, keyRing: ring)
        #expect(try SQLiteConnection(path: path, create: false).userVersion() == Schema.migrations.count)
        for (c, id) in ids.enumerated() {
            #expect(try await store.history(id).map(\.body) == (1...4).map { "r2 \(c).\($0)" })
            let summary = try #require(try await store.conversation(id))
            #expect(summary.title == "title \(c)" && summary.tags == ["pci"] && summary.messageCount == 4)
        }
        let clerk = try #require(try await store.user(named: "clerk"))
        #expect(clerk.groups == ["ward-3"] && clerk.failedAttempts == 1 && clerk.role == .staff)
        #expect(try await store.append(NewMessage(role: "user", body: "after upgrade"), to: ids[0]) == 5)
        _ = try await store.addHold(.conversation, subject: ids[1].rawValue, reason: "kept", by: "os:legal")
        await #expect(throws: StoreError.self) { try await store.delete(ids[1]) }
        try await store.delete(ids[2])

        // Still bound as release 2 bound it: a changed owner or role is refused.
        let raw = try SQLiteConnection(path: path, create: false)
        try raw.run("UPDATE users SET role = 'admin' WHERE name = 'clerk'")
        await #expect(throws: StoreError.self) { try await store.user(named: "clerk") }
        try raw.run("UPDATE conversations SET owner = 'nurse' WHERE id = ?", [ids[0].rawValue])
        await #expect(throws: StoreError.self) { try await store.history(ids[0]) }
    }
}
