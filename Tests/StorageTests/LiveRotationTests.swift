// A running server's Store and `enclave keys rotate` in another process share one database file and
// one key file. After the rotation re-wraps every data key under a master version the server never
// loaded, the server's Store must re-read the key source, keep reading old and new conversations,
// and wrap new conversations under the newest version. Two Store instances on one real file stand in
// for the two processes (each has its own connection and its own key ring loaded from the file).
import EnclaveCrypto
import Foundation
import Testing

@testable import Storage

@Suite("Rotation seen by a running Store")
struct LiveRotationTests {
    /// What `enclave keys rotate` does: add a version to the key file, rotate, drop the old versions.
    func rotateLikeTheCLI(database: String, keyFile: String) async throws -> RotationReport {
        let ring = try KeyRing.load(.file(keyFile))
        let admin = try Store(path: database, keyRing: ring)
        try ring.addRandomVersion()
        try ring.replaceKeyFile(at: keyFile)
        let report = try await admin.rotate(batchSize: 3)
        ring.removeVersions(below: report.version)
        try ring.replaceKeyFile(at: keyFile)
        return report
    }

    @Test("a server Store reads, appends and creates across a rotation done by another Store")
    func serverFollowsRotation() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let database = dir.file("live.sqlite"), keyFile = dir.file("live.key")
        try makeKeyRing().createKeyFile(at: keyFile)
        let serverRing = try KeyRing.load(.file(keyFile))
        let server = try Store(path: database, keyRing: serverRing)
        var expected: [ConversationID: [String]] = [:]
        for c in 0..<30 {
            let id = try await server.createConversation(owner: "alice", title: "old \(c)")
            for m in 0..<3 { _ = try await server.append(NewMessage(role: "user", body: "old \(c).\(m)"), to: id) }
            expected[id] = (0..<3).map { "old \(c).\($0)" }
            #expect(try await server.history(id).map(\.body) == expected[id])  // now cached under version 1
        }
        // The server keeps reading, appending and creating while the other "process" rotates.
        let old = expected
        let created = try await withThrowingTaskGroup(of: [ConversationID: [String]].self) { group in
            group.addTask {
                let report = try await rotateLikeTheCLI(database: database, keyFile: keyFile)
                #expect(report.version == 2 && report.retired == [1])
                return [:]
            }
            group.addTask {
                var mine: [ConversationID: [String]] = [:]
                for round in 0..<20 {
                    for (id, bodies) in old { #expect(try await server.history(id).map(\.body) == bodies) }
                    let id = try await server.createConversation(owner: "bob", title: "new \(round)")
                    _ = try await server.append(NewMessage(role: "user", body: "new \(round)"), to: id)
                    mine[id] = ["new \(round)"]
                    await Task.yield()
                }
                return mine
            }
            return try await group.reduce(into: [:]) { $0.merge($1) { a, _ in a } }
        }
        // Afterwards: old and new conversations open, appends work, new keys go under version 2.
        for (id, bodies) in expected {
            _ = try await server.append(NewMessage(role: "assistant", body: "after"), to: id)
            #expect(try await server.history(id).map(\.body) == bodies + ["after"])
        }
        for (id, bodies) in created { #expect(try await server.history(id).map(\.body) == bodies) }
        let late = try await server.createConversation(owner: "carol", title: "late")
        #expect(try await server.conversation(late)?.title == "late")
        #expect(serverRing.versions.contains(2))
        // An independent reader with only the new key file sees every data key under version 2.
        let reader = try Store(path: database, keyRing: KeyRing.load(.file(keyFile)))
        let status = try await reader.masterKeyStatus()
        #expect(status.map(\.state) == [.retired, .active])
        #expect(status.first?.conversations == 0)
        #expect(status.last?.conversations == expected.count + created.count + 1)
        for (id, bodies) in expected { #expect(try await reader.history(id).map(\.body) == bodies + ["after"]) }
        #expect(try await reader.integrityCheck() == "ok")
    }

    @Test("a key source whose new version does not match the database is refused, never used to wrap")
    func wrongNewVersionRefused() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let database = dir.file("wrong.sqlite"), keyFile = dir.file("wrong.key")
        try makeKeyRing().createKeyFile(at: keyFile)
        let server = try Store(path: database, keyRing: KeyRing.load(.file(keyFile)))
        let id = try await server.createConversation(owner: "alice", title: "t")
        _ = try await server.append(NewMessage(role: "user", body: "b"), to: id)
        // Rotate with a copy of the key file, then put a different version-2 key where the server looks.
        let adminFile = dir.file("admin.key")
        try KeyRing.load(.file(keyFile)).createKeyFile(at: adminFile)
        _ = try await rotateLikeTheCLI(database: database, keyFile: adminFile)
        let impostor = try KeyRing(keys: [2: SymmetricKey.random()])
        try impostor.replaceKeyFile(at: keyFile)
        let read = await #expect(throws: StoreError.self) { try await server.history(id) }
        #expect(read?.code == .wrongMasterKey)
        // The wrong key is never used to wrap: creating a conversation is refused too (missing when the
        // ring dropped the wrong key and has not re-read the source yet, wrong when it has).
        let create = await #expect(throws: StoreError.self) { try await server.createConversation(owner: "bob") }
        #expect([.missingMasterKey, .wrongMasterKey].contains(create?.code))
        let reader = try Store(path: database, keyRing: KeyRing.load(.file(adminFile)))
        #expect(try await reader.masterKeyStatus().last?.conversations == 1)
    }

    @Test("a ring re-reads its source at most once per interval, and only adds versions")
    func reloadIsBounded() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let keyFile = dir.file("bounded.key")
        try makeKeyRing().createKeyFile(at: keyFile)
        let ring = try KeyRing.load(.file(keyFile))
        let writer = try KeyRing.load(.file(keyFile))
        try writer.addRandomVersion()
        try writer.replaceKeyFile(at: keyFile)
        #expect(try ring.reloadFromSource(minimumInterval: .seconds(3600)) == [2])
        try writer.addRandomVersion()
        try writer.replaceKeyFile(at: keyFile)
        #expect(try ring.reloadFromSource(minimumInterval: .seconds(3600)) == [])
        #expect(try ring.reloadFromSource(minimumInterval: .zero) == [3])
        #expect(ring.versions == [1, 2, 3])
        #expect(try KeyRing(keys: [1: SymmetricKey.random()]).reloadFromSource(minimumInterval: .zero) == [])
    }
}
