// The send path's lookup (`Store.head`): the same owner, provider and tags as the full summary, nil for an
// unknown conversation, an integrity error naming the row for tampered tags; and the summary's message
// count (now the highest seq) still equals the number of messages appended, across a reopen.
import Foundation
import Storage
import Testing

@Suite("Store head")
struct StoreHeadTests {
    @Test("head agrees with the summary; unknown is nil; counts hold across a reopen")
    func headAgreesWithSummary() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let ring = try makeKeyRing()
        let path = dir.file("h.sqlite")
        var store = try Store(path: path, keyRing: ring)
        let id = try await store.createConversation(owner: "alice", title: "Ward round", tags: ["phi"])
        let fresh = try #require(try await store.head(id))
        #expect(fresh.owner == "alice" && fresh.provider == nil && fresh.tags == ["phi"])
        for index in 0..<7 {
            _ = try await store.append(
                NewMessage(role: index % 2 == 0 ? "user" : "assistant", body: "m\(index)"), to: id)
        }
        try await store.addTags(["pci"], to: id)
        try await store.setProvider("local", for: id)
        store = try Store(path: path, keyRing: ring)
        _ = try await store.append(NewMessage(role: "user", body: "after reopen"), to: id)
        let head = try #require(try await store.head(id))
        let summary = try #require(try await store.conversation(id))
        #expect(head.id == id && head.owner == summary.owner && head.provider == "local")
        #expect(head.tags == ["phi", "pci"] && head.tags == summary.tags)
        #expect(summary.messageCount == 8)
        #expect(try await store.conversations(owner: "alice").map(\.messageCount) == [8])
        let empty = try await store.createConversation(owner: "alice")
        #expect(try await store.conversation(empty)?.messageCount == 0)
        let unknown = try #require(ConversationID(rawValue: String(repeating: "0", count: 20)))
        #expect(try await store.head(unknown) == nil)
    }

    @Test("tampered tags fail the lookup with an integrity error naming the row")
    func tamperedTags() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("t.sqlite")
        let store = try Store(path: path, keyRing: makeKeyRing())
        let id = try await store.createConversation(owner: "alice", tags: ["phi"])
        let raw = try SQLiteConnection(path: path)
        var sealed = try #require(
            try raw.query("SELECT tags FROM conversations WHERE id = ?", [id.rawValue]).first?[0].bytes)
        sealed[sealed.count - 1] ^= 0x01
        try raw.run("UPDATE conversations SET tags = ? WHERE id = ?", [sealed, id.rawValue])
        let error = await #expect(throws: StoreError.self) { try await store.head(id) }
        #expect(error?.code == .integrity)
        #expect(error?.message.contains("conversations row \(id) tags") == true)
    }
}
