// Done-when 4: a wrong master key stops start-up with a clear error (and a non-zero exit from the
// CLI) and leaves the database file byte for byte unchanged.
import EnclaveCrypto
import Foundation
import Storage
import Testing

@Suite("Wrong master key")
struct WrongKeyTests {
    @Test("Store refuses a wrong or missing key; the file's SHA-256 is unchanged")
    func refuses() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("w.sqlite")
        do {
            let store = try Store(path: path, keyRing: makeKeyRing())
            let id = try await store.createConversation(owner: "alice", title: "x")
            _ = try await store.append(NewMessage(role: "user", body: "y"), to: id)
        }
        let before = try SHA256.hash(fileAtPath: path)
        let error = #expect(throws: StoreError.self) { try Store(path: path, keyRing: makeKeyRing()) }
        #expect(error?.code == .wrongMasterKey)
        #expect(error?.message.contains("does not match") == true)
        let missing = #expect(throws: StoreError.self) {
            try Store(path: path, keyRing: KeyRing(keys: [2: SymmetricKey.random()]))
        }
        #expect(missing?.code == .missingMasterKey)
        #expect(try SHA256.hash(fileAtPath: path) == before)
    }

    @Test("enclave keys status with the wrong key file exits non-zero naming wrong-master-key")
    func cliExit() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = dir.file("c.sqlite"), good = dir.file("good.key"), bad = dir.file("bad.key")
        #expect(try runEnclave(["keys", "init", "--key-file", good]).status == 0)
        #expect(try runEnclave(["keys", "init", "--key-file", bad]).status == 0)
        let again = try runEnclave(["keys", "init", "--key-file", good])
        #expect(again.status != 0 && again.err.contains("refusing to overwrite"))
        let ok = try runEnclave(["keys", "status", "--key-file", good, "--database", db])
        #expect(ok.status == 0 && ok.out.contains("version 1\tactive"))
        let before = try SHA256.hash(fileAtPath: db)
        let wrong = try runEnclave(["keys", "status", "--key-file", bad, "--database", db])
        #expect(wrong.status != 0)
        #expect(wrong.err.contains("wrong-master-key"))
        #expect(try SHA256.hash(fileAtPath: db) == before)
    }
}
