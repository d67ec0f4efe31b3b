// Issue 17, step 1: the columns sealing did not cover are bound. An attacker with write access to the
// database file (and no key) changes one column with plain SQL; the Store must refuse the row with an
// `integrity` error naming it, keep serving every other row, and accept the same changes when they
// are made through its own write functions.
import EnclaveCrypto
import Foundation
import Storage
import Testing

@Suite("Integrity")
struct IntegrityTests {
    /// A store with three conversations of alice (4 messages each) and one of bob.
    struct Fixture {
        let dir: TemporaryDirectory
        let path: String
        let store: Store
        let raw: SQLiteConnection
        let alice: [ConversationID]
        let bob: ConversationID

        init(_ name: String = #function) async throws {
            dir = try TemporaryDirectory(name)
            path = dir.file("i.sqlite")
            store = try Store(path: path, keyRing: makeKeyRing())
            var ids: [ConversationID] = []
            for c in 0..<3 {
                let id = try await store.createConversation(owner: "alice", title: "a\(c)")
                for m in 1...4 {
                    let role = m % 2 == 1 ? "user" : "assistant"
                    _ = try await store.append(NewMessage(role: role, body: "a\(c).\(m)"), to: id)
                }
                ids.append(id)
            }
            alice = ids
            bob = try await store.createConversation(owner: "bob", title: "b")
            _ = try await store.append(NewMessage(role: "user", body: "b.1"), to: bob)
            raw = try SQLiteConnection(path: path)
        }

        /// Expects `body` to throw `integrity` with a message containing `row`.
        func expectIntegrity(_ row: String, _ body: () async throws -> Void) async {
            let error = await #expect(throws: StoreError.self) { try await body() }
            #expect(error?.code == .integrity, "\(String(describing: error))")
            #expect(error?.message.contains(row) == true, "\(error?.message ?? "-") should name \(row)")
        }

        /// Alice's other conversations still open in full.
        func othersServed(except victim: ConversationID) async throws {
            for id in alice where id != victim { #expect(try await store.history(id).count == 4) }
            #expect(try await store.history(bob).map(\.body) == ["b.1"])
        }
    }

    @Test("an owner changed in SQL: the conversation does not open for anyone; /list names it, lists the rest")
    func ownerSwapped() async throws {
        let f = try await Fixture()
        defer { f.dir.remove() }
        try f.raw.run("UPDATE conversations SET owner = 'bob' WHERE id = ?", [f.alice[1].rawValue])
        let row = "conversations row \(f.alice[1])"
        await f.expectIntegrity(row) { _ = try await f.store.history(f.alice[1]) }
        await f.expectIntegrity(row) { _ = try await f.store.conversation(f.alice[1]) }
        await f.expectIntegrity(row) { _ = try await f.store.head(f.alice[1]) }
        let listing = try await f.store.listConversations(owner: "bob")
        #expect(listing.summaries.map(\.id) == [f.bob])
        #expect(listing.damaged.map(\.id) == [f.alice[1]])
        await f.expectIntegrity(row) { _ = try await f.store.conversations(owner: "bob") }
        try await f.othersServed(except: f.alice[1])
        // Put back, it opens again: the binding is to the true owner, nothing was destroyed.
        try f.raw.run("UPDATE conversations SET owner = 'alice' WHERE id = ?", [f.alice[1].rawValue])
        #expect(try await f.store.history(f.alice[1]).count == 4)
    }

    @Test("a message deleted, moved to another conversation or renumbered is named; the rest is served")
    func messagesRemovedMovedRenumbered() async throws {
        let f = try await Fixture()
        defer { f.dir.remove() }
        let (a0, a1, a2) = (f.alice[0], f.alice[1], f.alice[2])
        // Deleted from the middle: the history shows the gap.
        try f.raw.run("DELETE FROM messages WHERE conversation_id = ? AND seq = 2", [a0.rawValue])
        await f.expectIntegrity("conversation \(a0)") { _ = try await f.store.history(a0) }
        #expect(try await f.store.history(a0, limit: 2).map(\.seq) == [3, 4], "the window after the gap is sound")
        // Deleted from the end: even the listing sees it (highest seq below the sealed count).
        try f.raw.run("DELETE FROM messages WHERE conversation_id = ? AND seq = 4", [a1.rawValue])
        await f.expectIntegrity("conversation \(a1)") { _ = try await f.store.history(a1, limit: 1) }
        await f.expectIntegrity("conversation \(a1)") { _ = try await f.store.conversation(a1) }
        // An append after the removal does not paper over it: seq follows the sealed count.
        #expect(try await f.store.append(NewMessage(role: "user", body: "x"), to: a1) == 5)
        await f.expectIntegrity("conversation \(a1)") { _ = try await f.store.history(a1) }
        // Renumbered: seq 4 → 7 (the body's AAD no longer matches either, but the count check names it first).
        try f.raw.run("UPDATE messages SET seq = 7 WHERE conversation_id = ? AND seq = 4", [a2.rawValue])
        await f.expectIntegrity("conversation \(a2)") { _ = try await f.store.history(a2) }
        // The listing compares the highest seq with the sealed count: the renumbered row shows there; the
        // middle gap (a0) and the gap behind a later append (a1) show when the history is read.
        let listing = try await f.store.listConversations(owner: "alice")
        #expect(listing.damaged.map(\.id) == [a2])
        #expect(Set(listing.summaries.map(\.id)) == [a0, a1])
        // Moved into bob's conversation as seq 2: bob's history has a row beyond its count.
        try f.raw.run(
            "UPDATE messages SET conversation_id = ?, seq = 2 WHERE conversation_id = ? AND seq = 1",
            [f.bob.rawValue, a0.rawValue])
        await f.expectIntegrity("conversation \(f.bob)") { _ = try await f.store.history(f.bob) }
        // The sealed count itself, copied from another conversation, does not open.
        let count = try f.raw.query("SELECT message_count FROM conversations WHERE id = ?", [a2.rawValue]).first![0]
        try f.raw.run("UPDATE conversations SET message_count = ? WHERE id = ?", [count, a0.rawValue])
        await f.expectIntegrity("conversations row \(a0) message count") { _ = try await f.store.history(a0) }
    }

    @Test("a user row changed in SQL is refused; the same change through the Store verifies")
    func userRows() async throws {
        let f = try await Fixture()
        defer { f.dir.remove() }
        let clerk = try UserRecord.make(name: "clerk", role: .staff, groups: ["ward-3"], password: "clerk-pw")
        let officer = try UserRecord.make(name: "officer", role: .compliance, password: "officer-pw")
        try await f.store.createUser(clerk)
        try await f.store.createUser(officer)
        #expect(try await f.store.user(named: "clerk") == clerk)
        let tampering: [(String, String, [any SQLiteBindable])] = [
            ("role raised", "UPDATE users SET role = 'compliance' WHERE name = 'clerk'", []),
            ("hash copied", "UPDATE users SET password_hash = ? WHERE name = 'officer'", [clerk.passwordHash]),
            ("group added", "UPDATE users SET groups_list = 'ward-3\nicu' WHERE name = 'clerk'", []),
            ("MAC removed", "UPDATE users SET mac = NULL WHERE name = 'clerk'", []),
        ]
        for (what, sql, values) in tampering {
            let before = try f.raw.query("SELECT * FROM users ORDER BY name")
            try f.raw.run(sql, values)
            let name = sql.contains("officer") ? "officer" : "clerk"
            await f.expectIntegrity("users row \(name)") { _ = try await f.store.user(named: name) }
            await f.expectIntegrity("users row \(name)") { _ = try await f.store.listUsers() }
            #expect(try await f.store.user(named: name == "clerk" ? "officer" : "clerk") != nil, "\(what)")
            for row in before {
                try f.raw.run(
                    "UPDATE users SET role = ?, groups_list = ?, password_hash = ?, mac = ? WHERE name = ?",
                    [row[1].string, row[2].string, row[3].string, row[7].bytes, row[0].string])
            }
        }
        // A MAC copied along with the row's values onto another name does not verify either.
        let clerkRow = try f.raw.query("SELECT role, password_hash, mac FROM users WHERE name = 'clerk'").first!
        try f.raw.run(
            "UPDATE users SET role = ?, password_hash = ?, groups_list = 'ward-3', mac = ? WHERE name = 'officer'",
            [clerkRow[0].string, clerkRow[1].string, clerkRow[2].bytes])
        await f.expectIntegrity("users row officer") { _ = try await f.store.user(named: "officer") }

        // Disabled and locked through the Store, then cleared in SQL: refused.
        var changed = clerk
        changed.disabled = true
        try await f.store.updateUser(changed)
        #expect(try await f.store.user(named: "clerk")?.disabled == true)
        try f.raw.run("UPDATE users SET disabled = 0 WHERE name = 'clerk'")
        await f.expectIntegrity("users row clerk") { _ = try await f.store.user(named: "clerk") }
        try await f.store.updateUser(clerk)
        var lockedOut = clerk
        (lockedOut.failedAttempts, lockedOut.lockedUntil) = (3, Date().addingTimeInterval(900))
        try await f.store.updateUser(lockedOut)
        let locked = try #require(try await f.store.user(named: "clerk"))
        #expect(locked.failedAttempts == 3 && locked.lockedUntil != nil)
        try f.raw.run("UPDATE users SET locked_until = NULL, failed_attempts = 0 WHERE name = 'clerk'")
        await f.expectIntegrity("users row clerk") { _ = try await f.store.user(named: "clerk") }
        // The Store's own writes recompute the MAC: role change and unlock together.
        var promoted = locked
        promoted.role = .admin
        (promoted.failedAttempts, promoted.lockedUntil) = (0, nil)
        try await f.store.updateUser(promoted)
        let now = try #require(try await f.store.user(named: "clerk"))
        #expect(now.role == .admin && now.failedAttempts == 0 && now.lockedUntil == nil)
    }

    @Test("rotation moves user MACs to the new master version; old keys can then be dropped")
    func rotationRebindsUsers() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let ring = try makeKeyRing()
        let store = try Store(path: dir.file("r.sqlite"), keyRing: ring)
        try await store.createUser(UserRecord(name: "u", role: .staff, passwordHash: "scrypt$x"))
        let id = try await store.createConversation(owner: "u")
        _ = try await store.append(NewMessage(role: "user", body: "m"), to: id)
        _ = try ring.addRandomVersion()
        _ = try await store.rotate()
        #expect(ring.versions == [2], "the old master key is gone from the ring")
        #expect(try await store.user(named: "u")?.name == "u")
        #expect(try await store.history(id).map(\.body) == ["m"])
    }
}
