// The Store's API: users and lockout, conversations, append and history, tags that only grow,
// sticky provider, feedback, crypto-shredding delete, and group commit under concurrent appends.
import EnclaveCrypto
import Foundation
import Synchronization
import Testing

@testable import Storage

@Suite("Store")
struct StoreTests {
    @Test("users: create, look up, update, duplicate refused, failed logins lock, success unlocks")
    func users() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"), keyRing: makeKeyRing())
        let alice = UserRecord(name: "alice", role: .staff, groups: ["ward-3", "nurses"], passwordHash: "scrypt$x")
        try await store.createUser(alice)
        #expect(try await store.user(named: "alice") == alice)
        await #expect(throws: StoreError.self) { try await store.createUser(alice) }
        await #expect(throws: StoreError.self) {
            try await store.createUser(UserRecord(name: "bad name", role: .admin, passwordHash: "x"))
        }
        // The lock fields as ChatCore writes them after failed logins, read back exactly.
        var locked = alice
        (locked.failedAttempts, locked.lockedUntil) = (5, Date(timeIntervalSince1970: 1_000_060.5))
        try await store.updateUser(locked)
        #expect(try await store.user(named: "alice") == locked)
        try await store.updateUser(alice)
        #expect(try await store.user(named: "alice") == alice)
        var promoted = alice
        promoted.role = .compliance
        promoted.disabled = true
        try await store.updateUser(promoted)
        #expect(try await store.listUsers() == [promoted])
        #expect(try await store.user(named: "bob") == nil)
    }

    @Test("conversations: title, tags that only grow, provider, history in order, listing by owner")
    func conversations() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"), keyRing: makeKeyRing())
        let id = try await store.createConversation(owner: "alice", title: "Ward round", tags: ["phi"])
        #expect(ConversationID(rawValue: id.rawValue) == id)
        #expect(ConversationID(rawValue: "not an id") == nil)
        let first = try await store.append(NewMessage(role: "user", body: "Hello"), to: id)
        let second = try await store.append(
            NewMessage(
                role: "assistant", body: "Hi there", provider: "local", modelID: "SmolLM2", promptVersion: "chat.v1",
                tokensIn: 12, tokensOut: 3), to: id)
        #expect((first, second) == (1, 2))
        let history = try await store.history(id)
        #expect(history.map(\.body) == ["Hello", "Hi there"])
        #expect(history[1].modelID == "SmolLM2" && history[1].tokensOut == 3 && history[1].promptVersion == "chat.v1")
        #expect(try await store.history(id, limit: 1).map(\.seq) == [2])
        #expect(try await store.addTags(["pci"], to: id) == ["phi", "pci"])
        #expect(try await store.addTags([], to: id) == ["phi", "pci"])
        #expect(try await store.removeTag("pci", from: id) == ["phi"])
        try await store.setProvider("local", for: id)
        let other = try await store.createConversation(owner: "bob")
        let summary = try #require(try await store.conversation(id))
        #expect(summary.title == "Ward round" && summary.tags == ["phi"] && summary.provider == "local")
        #expect(summary.messageCount == 2 && summary.owner == "alice")
        #expect(try await store.conversations(owner: "alice").map(\.id) == [id])
        #expect(try await store.conversation(other)?.title == nil)
        await #expect(throws: StoreError.self) { try await store.append(NewMessage(role: "robot", body: "x"), to: id) }
        await #expect(throws: StoreError.self) { try await store.addTags(["has space"], to: id) }
    }

    @Test("sequence numbers continue after reopening; delete shreds and later access is not-found")
    func reopenAndDelete() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let ring = try makeKeyRing()
        let path = dir.file("s.sqlite")
        var store: Store? = try Store(path: path, keyRing: ring)
        let id = try await store!.createConversation(owner: "alice")
        _ = try await store!.append(NewMessage(role: "user", body: "one"), to: id)
        try await store!.addFeedback(conversation: id, user: "alice", up: true, comment: "useful")
        store = nil
        let reopened = try Store(path: path, keyRing: ring)
        #expect(try await reopened.append(NewMessage(role: "user", body: "two"), to: id) == 2)
        try await reopened.delete(id)
        let error = await #expect(throws: StoreError.self) { try await reopened.history(id) }
        #expect(error?.code == .notFound)
        #expect(try await reopened.conversation(id) == nil)
        await #expect(throws: StoreError.self) { try await reopened.delete(id) }
        #expect(try await reopened.integrityCheck() == "ok")
        let walSize = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber)?.intValue
        #expect(walSize == 0)
    }

    @Test("64 appends in flight together are all acknowledged, numbered without gaps, in fewer commits")
    func groupCommit() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("s.sqlite")
        let store = try Store(path: path, keyRing: makeKeyRing())
        let id = try await store.createConversation(owner: "alice")
        // Another connection holds the write lock until the 64 appends are in flight (at most 4 s), so they
        // are truly concurrent; the lock is released from a thread of its own, so that does not wait for
        // the Swift pool, which other suites may keep busy meanwhile (the first append blocks the Store's
        // queue on the lock until then). The appends are tasks on the pool, as the chat server's are: with a
        // task executor preference of their own (a thread each), one in twenty runs lost a resumption
        // between the Store's custom executor and the task's and hung.
        let blocker = Unchecked(try SQLiteConnection(path: path, create: false))
        try blocker.value.execute("BEGIN IMMEDIATE")
        let release = Thread {
            let deadline = ContinuousClock.now + .seconds(4)
            while store.appendsInFlight.load(ordering: .relaxed) < 64 && ContinuousClock.now < deadline {
                usleep(1000)
            }
            _ = try? blocker.value.execute("COMMIT")
        }
        release.start()
        let seqs = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<64 {
                group.addTask {
                    try await store.append(NewMessage(role: "user", body: "m\(index)"), to: id)
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(seqs.sorted() == Array(1...64))
        #expect(await store.appendCommits < 64)
        #expect(try await store.history(id).count == 64)
    }

    @Test("appends one after another commit one by one, and are counted in flight only until they return")
    func sequentialAppends() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"), keyRing: makeKeyRing())
        let id = try await store.createConversation(owner: "alice")
        for index in 0..<5 { _ = try await store.append(NewMessage(role: "user", body: "m\(index)"), to: id) }
        #expect(await store.appendCommits == 5)
        #expect(store.appendsInFlight.load(ordering: .relaxed) == 0)
    }
}

/// A value handed to another thread by a test that hands it over whole (nothing else touches it meanwhile).
struct Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
