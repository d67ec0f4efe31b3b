// Done-when 1: no plaintext at rest. 1,000 messages and 100 titles, tag sets and feedback comments
// carry unique canaries; no file in the database directory (database, -wal, -shm) nor any SQLite temp
// file (named in a temp directory, or already unlinked but open) holds any of them as UTF-8,
// UTF-16 or base64, before and after deleting half the conversations. The same scan over a plain SQLite
// table of the same messages finds them, so the scan itself can fail.
import EnclaveCrypto
import Foundation
import Testing

@testable import Storage

@Suite("At rest")
struct AtRestTests {
    /// Every canary starts with this marker, so a leak of any canary (in any of the encodings,
    /// at any alignment) is also a leak of the marker, and one search per pattern suffices.
    static let marker = "CANARY-ENCLAVE-"

    /// Stores 100 conversations × 10 messages, each title and body holding a unique canary.
    func fill(_ store: Store) async throws -> [ConversationID] {
        var ids: [ConversationID] = []
        for c in 0..<100 {
            let id = try await store.createConversation(
                owner: "alice", title: "\(Self.marker)title-\(c)-Q7", tags: ["\(Self.marker)tag-\(c)-T3"])
            try await store.addFeedback(conversation: id, user: "alice", up: true, comment: "\(Self.marker)fb-\(c)-F5")
            ids.append(id)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (c, id) in ids.enumerated() {
                group.addTask {
                    for m in 0..<10 {
                        _ = try await store.append(
                            NewMessage(
                                role: m % 2 == 0 ? "user" : "assistant", body: "note \(Self.marker)\(c)-\(m)-Z9 end"),
                            to: id)
                    }
                }
            }
            try await group.waitForAll()
        }
        return ids
    }

    /// Paths of leaked patterns found in `directory` and in SQLite temp files.
    func leaks(in directory: String) -> [String] {
        let patterns = leakPatterns(Self.marker)
        var found: [String] = []
        var files = filesUnder(directory)
        // SQLite names its temporary files etilqs_*; temp_store=MEMORY should mean there are none.
        for temp in ["/tmp", "/var/tmp", NSTemporaryDirectory()] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: temp)) ?? []
            for name in names where name.hasPrefix("etilqs_") {
                if let data = FileManager.default.contents(atPath: temp + "/" + name) {
                    files.append((temp + "/" + name, Array(data)))
                }
            }
        }
        // SQLite unlinks its temp files as soon as it opens them: look at this process's open files too.
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in descriptors {
            let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")) ?? ""
            if link.contains("etilqs"), let data = FileManager.default.contents(atPath: "/proc/self/fd/\(fd)") {
                files.append((link, Array(data)))
            }
        }
        for (path, bytes) in files {
            for (index, pattern) in patterns.enumerated() where contains(bytes, pattern) {
                found.append("\(path) (encoding \(index))")
            }
        }
        return found
    }

    @Test("no canary in the database, WAL, SHM or temp files, before and after deleting half")
    func noPlaintextAtRest() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("enclave.sqlite"), keyRing: makeKeyRing())
        let ids = try await fill(store)
        #expect(FileManager.default.fileExists(atPath: dir.file("enclave.sqlite-wal")))
        #expect(leaks(in: dir.path) == [])
        for id in ids.prefix(50) { try await store.delete(id) }
        try await store.checkpoint()
        #expect(leaks(in: dir.path) == [])
        let survivor = try await store.history(ids[99])
        #expect(survivor.count == 10 && survivor[0].body.contains(Self.marker))
    }

    @Test("control: the same scan finds the canaries in a plain SQLite table")
    func scanFindsPlaintext() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // The message bodies as a server that seals nothing keeps them, over a connection with the Store's
        // settings (WAL, secure_delete, temp_store=MEMORY), so they reach the same files.
        let db = try SQLiteConnection(path: dir.file("plain.sqlite"))
        try db.execute("CREATE TABLE messages (conversation INTEGER, seq INTEGER, body TEXT NOT NULL)")
        try db.transaction {
            for c in 0..<100 {
                for m in 0..<10 {
                    try db.run("INSERT INTO messages VALUES (?, ?, ?)", [c, m, "note \(Self.marker)\(c)-\(m)-Z9 end"])
                }
            }
        }
        #expect(!leaks(in: dir.path).isEmpty)
        let sample = Data("x\(Self.marker)y".utf8).base64EncodedString()
        #expect(leakPatterns(Self.marker).contains { contains(Array(sample.utf8), $0) })
    }
}
