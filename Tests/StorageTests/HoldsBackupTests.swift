// Legal holds and online backups in the Store, over real SQLite files: a hold's reason is sealed at
// rest and bound to its hold, a held conversation or user cannot be deleted by any path until the hold
// is lifted, reasons survive a master-key rotation; an online backup taken while another connection
// keeps appending is a consistent, openable copy holding every message committed before it began; a
// database from a newer release is refused with a stable code and left untouched.
import EnclaveCrypto
import Foundation
import Testing

@testable import Storage

@Suite("Holds and backups")
struct HoldsBackupTests {
    @Test("a held conversation or user is not deleted; lifting the hold allows it")
    func holdsForbidDeletion() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("db.sqlite"), keyRing: try makeKeyRing())
        try await store.createUser(UserRecord(name: "ann", role: .staff, passwordHash: "scrypt$x"))
        try await store.createUser(UserRecord(name: "ben", role: .staff, passwordHash: "scrypt$x"))
        let annConversation = try await store.createConversation(owner: "ann", title: "a")
        let benConversation = try await store.createConversation(owner: "ben", title: "b")
        let onConversation = try await store.addHold(
            .conversation, subject: annConversation.rawValue, reason: "subpoena 4411 (do not destroy)", by: "os:legal")
        let onUser = try await store.addHold(.user, subject: "ben", reason: "litigation hold", by: "os:legal")

        for attempt in [
            { try await store.delete(annConversation) }, { try await store.deleteUser("ann") },
            { try await store.delete(benConversation) }, { try await store.deleteUser("ben") },
        ] as [() async throws -> Void] {
            let error = await #expect(throws: StoreError.self) { try await attempt() }
            #expect(error?.code == .held)
            #expect(error?.message.contains("subpoena") == false && error?.message.contains("litigation") == false)
        }
        #expect(try await store.conversation(annConversation) != nil)
        #expect(try await store.user(named: "ben") != nil)
        #expect(try await store.holds().map(\.reason) == ["subpoena 4411 (do not destroy)", "litigation hold"])

        try await store.removeHold(id: onConversation.id)
        try await store.delete(annConversation)
        #expect(try await store.deleteUser("ann") == 0)
        try await store.removeHold(id: onUser.id)
        #expect(try await store.deleteUser("ben") == 1)
        #expect(try await store.holds().isEmpty)
        await #expect(throws: StoreError.self) { try await store.addHold(.user, subject: "ann", reason: "x", by: "o") }
        await #expect(throws: StoreError.self) { try await store.addHold(.user, subject: "ben", reason: " ", by: "o") }
    }

    @Test("a hold's reason is sealed at rest, bound to its hold, and re-sealed by rotation")
    func reasonsAreSealed() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("db.sqlite")
        let ring = try makeKeyRing()
        let store = try Store(path: path, keyRing: ring)
        try await store.createUser(UserRecord(name: "ann", role: .staff, passwordHash: "scrypt$x"))
        try await store.createUser(UserRecord(name: "ben", role: .staff, passwordHash: "scrypt$x"))
        let first = try await store.addHold(.user, subject: "ann", reason: "matter-NEEDLE-7731", by: "os:legal")
        _ = try await store.addHold(.user, subject: "ben", reason: "other matter", by: "os:legal")
        try await store.checkpoint()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.range(of: Data("NEEDLE".utf8)) == nil)

        try ring.addRandomVersion()
        _ = try await store.rotate()
        #expect(ring.versions == [2])
        #expect(try await store.holds().map(\.reason) == ["matter-NEEDLE-7731", "other matter"])

        // A reason moved onto another hold does not open there.
        let raw = try SQLiteConnection(path: path, create: false)
        try raw.run("UPDATE holds SET subject = 'ben' WHERE id = ?", [first.id])
        let error = await #expect(throws: StoreError.self) { try await store.holds() }
        #expect(error?.code == .integrity)
    }

    @Test("an online backup taken while another connection appends opens with the key and holds every commit before it")
    func onlineBackup() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let ring = try makeKeyRing()
        let writer = try Store(path: dir.file("db.sqlite"), keyRing: ring)
        let id = try await writer.createConversation(owner: "ann", title: "live")
        for n in 1...50 { _ = try await writer.append(NewMessage(role: "user", body: "before \(n)"), to: id) }
        let reader = try Store(path: dir.file("db.sqlite"), keyRing: ring)
        let appending = Task {
            var n = 0
            while !Task.isCancelled && n < 2_000 {
                n += 1
                _ = try await writer.append(NewMessage(role: "user", body: "during \(n)"), to: id)
            }
            return n
        }
        try await Task.sleep(for: .milliseconds(50))
        let versions = try await reader.backupDatabase(to: dir.file("copy.sqlite"))
        appending.cancel()
        let written = try await appending.value
        #expect(versions == [1])
        let mode = try FileManager.default.attributesOfItem(atPath: dir.file("copy.sqlite"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(!FileManager.default.fileExists(atPath: dir.file("copy.sqlite-wal")))

        let copy = try Store(path: dir.file("copy.sqlite"), keyRing: ring)
        let history = try await copy.history(id).map(\.body)
        // Exactly a prefix of what was written: the 50 first, then "during 1..k" in order, no gap.
        #expect(history.prefix(50) == ArraySlice((1...50).map { "before \($0)" }))
        #expect(history.dropFirst(50).elementsEqual((0..<(history.count - 50)).map { "during \($0 + 1)" }))
        #expect(history.count - 50 <= written)
        #expect(try await copy.integrityCheck() == "ok")
        await #expect(throws: StoreError.self) { try await reader.backupDatabase(to: dir.file("copy.sqlite")) }

        try await reader.registerBackup(
            KeptBackup(id: "b1", destination: "/x", masterVersions: [1, 3], created: Date()))
        #expect(try await writer.keptBackups().map(\.masterVersions) == [[1, 3]])
        #expect(try await writer.forgetBackup(id: "b1"))
        #expect(try await writer.forgetBackup(id: "b1") == false)
    }

    @Test("a database from a newer release is refused with database-too-new and left untouched")
    func newerDatabaseRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("db.sqlite")
        let ring = try makeKeyRing()
        _ = try Store(path: path, keyRing: ring)
        let raw = try SQLiteConnection(path: path, create: false)
        try raw.execute("PRAGMA user_version = \(Schema.migrations.count + 1)")
        try raw.checkpointTruncate()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { _ = try Store(path: path, keyRing: ring) }
        #expect(error?.code == .databaseTooNew)
        #expect(error?.message.contains("schema version \(Schema.migrations.count + 1)") == true)
        #expect(error?.message.contains("newer release") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }
}
