import EnclaveCrypto
// Done-when 6: rotating the master key while 8 tasks append loses nothing and leaves every data key
// at the new version; a rotation (the real `enclave keys rotate`) killed at random points resumes and
// completes, and every message still opens, under the new key only.
import EnclaveTestSupport
import Foundation
import Storage
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Rotation")
struct RotationTests {
    @Test("rotation during 8 concurrent appenders: nothing lost, all keys at the new version")
    func rotateWhileAppending() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let ring = try makeKeyRing()
        let path = dir.file("r.sqlite")
        let store = try Store(path: path, keyRing: ring)
        var ids: [ConversationID] = []
        for _ in 0..<40 { ids.append(try await store.createConversation(owner: "alice", title: "t")) }
        let newVersion = try ring.addRandomVersion()
        let writers = ids.prefix(8)
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for id in writers {
                group.addTask {
                    for m in 0..<25 { _ = try await store.append(NewMessage(role: "user", body: "m\(m)"), to: id) }
                    return 25
                }
            }
            group.addTask {
                let report = try await store.rotate(batchSize: 3)
                #expect(report.version == newVersion && report.retired == [1])
                return 0
            }
            return try await group.reduce(0, +)
        }
        #expect(counts == 200)
        // A conversation created after the rotation is wrapped under the new version too.
        ids.append(try await store.createConversation(owner: "alice", title: "after"))
        let status = try await store.masterKeyStatus()
        #expect(status.map(\.state) == [.retired, .active])
        #expect(status.last?.conversations == ids.count && status.first?.conversations == 0)
        #expect(ring.versions == [newVersion])
        for id in writers { #expect(try await store.history(id).map(\.body) == (0..<25).map { "m\($0)" }) }
        // Reopening needs only the new version.
        let onlyNew = try Store(path: path, keyRing: ring)
        #expect(try await onlyNew.conversation(ids[0])?.title == "t")
    }

    @Test("`enclave keys rotate` SIGKILLed at random points resumes, completes, and every message opens")
    func killedRotationResumes() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = dir.file("k.sqlite"), key = dir.file("k.key")
        try makeKeyRing().createKeyFile(at: key)
        var ids: [ConversationID] = []
        do {
            let store = try Store(path: db, keyRing: KeyRing.load(.file(key)))
            for c in 0..<300 {
                let id = try await store.createConversation(owner: "alice", title: "title \(c)")
                _ = try await store.append(NewMessage(role: "user", body: "body \(c)"), to: id)
                ids.append(id)
            }
        }
        let executable = try enclaveExecutable()
        var random = SplitMix64(seed: 0x5EED)
        var completed = false
        var kills = 0
        for _ in 0..<40 where !completed {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["keys", "rotate", "--key-file", key, "--database", db, "--batch-size", "2"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            if kills < 8 {
                usleep(UInt32.random(in: 20_000...400_000, using: &random))
                kill(process.processIdentifier, SIGKILL)
            }
            process.waitUntilExit()
            if process.terminationReason == .exit && process.terminationStatus == 0 {
                completed = true
            } else {
                kills += 1
            }
        }
        #expect(completed)
        let ring = try KeyRing.load(.file(key))
        #expect(ring.versions.count == 1 && ring.latestVersion >= 2)
        let store = try Store(path: db, keyRing: ring)
        let status = try await store.masterKeyStatus()
        #expect(status.last?.state == .active && status.last?.version == ring.latestVersion)
        #expect(status.dropLast().allSatisfy { $0.state == .retired && $0.conversations == 0 })
        for (c, id) in ids.enumerated() {
            #expect(try await store.history(id).map(\.body) == ["body \(c)"])
        }
        #expect(try await store.integrityCheck() == "ok")
    }
}
