// Done-when 8: a truncated or non-SQLite database file, a read-only data directory and a full disk
// give clear errors with stable codes, leave no half-written rows, and never crash.
import EnclaveCrypto
import Foundation
import Testing

@testable import Storage

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Bad input", .serialized)
struct BadInputTests {
    @Test("a non-SQLite file and a truncated database are refused as corrupt-database")
    func corruptFiles() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let junk = dir.file("junk.sqlite")
        try Data("this is a text file, not a database\n".utf8).write(to: URL(fileURLWithPath: junk))
        let error = #expect(throws: StoreError.self) { try Store(path: junk, keyRing: makeKeyRing()) }
        #expect(error?.code == .corruptDatabase)

        let good = dir.file("good.sqlite")
        let ring = try makeKeyRing()
        do {
            let store = try Store(path: good, keyRing: ring)
            for c in 0..<30 {
                let id = try await store.createConversation(
                    owner: "alice", title: String(repeating: "t", count: 500) + "\(c)")
                for m in 0..<5 {
                    _ = try await store.append(
                        NewMessage(role: "user", body: String(repeating: "b", count: 900) + "\(m)"), to: id)
                }
            }
            try await store.checkpoint()
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        #expect(bytes.count > 16384)
        for cut in [50, 4096 + 100, bytes.count / 2] {
            let truncated = dir.file("cut-\(cut).sqlite")
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: truncated))
            do {
                let store = try Store(path: truncated, keyRing: ring)
                // Opening may succeed when the damage is past the schema; reading must then fail cleanly.
                let check = try await store.integrityCheck()
                #expect(check != "ok", "cut at \(cut)")
            } catch let error as StoreError {
                #expect(
                    [.corruptDatabase, .wrongMasterKey, .missingMasterKey].contains(error.code),
                    "cut at \(cut): \(error)")
            }
        }
    }

    /// Mounts a tmpfs of `size` at a new directory (needs root); nil with a printed reason otherwise.
    func mountTmpfs(_ size: String) throws -> String? {
        guard geteuid() == 0 else {
            print("skipping: mounting a tmpfs needs root")
            return nil
        }
        let point = try TemporaryDirectory().path
        let status = shell("mount -t tmpfs -o size=\(size),mode=0700 tmpfs '\(point)'")
        guard status == 0 else {
            print("skipping: cannot mount a tmpfs here (status \(status))")
            return nil
        }
        return point
    }

    func shell(_ command: String) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test("a read-only data directory: opening fails with read-only; an existing store cannot be written")
    func readOnly() async throws {
        guard let point = try mountTmpfs("4m") else { return }
        defer {
            _ = shell("umount '\(point)'")
            try? FileManager.default.removeItem(atPath: point)
        }
        let ring = try makeKeyRing()
        do {
            let store = try Store(path: point + "/ro.sqlite", keyRing: ring)
            let id = try await store.createConversation(owner: "alice")
            _ = try await store.append(NewMessage(role: "user", body: "kept"), to: id)
        }
        #expect(shell("mount -o remount,ro '\(point)'") == 0)
        let fresh = #expect(throws: StoreError.self) { try Store(path: point + "/new.sqlite", keyRing: ring) }
        #expect(fresh?.code == .readOnly)
        do {
            let store = try Store(path: point + "/ro.sqlite", keyRing: ring)
            let error = await #expect(throws: StoreError.self) { try await store.createConversation(owner: "bob") }
            #expect(error?.code == .readOnly)
        } catch let error as StoreError {
            #expect(error.code == .readOnly, "\(error)")
        }
    }

    @Test("a full disk: appends fail with disk-full; every acknowledged message survives, nothing half-written")
    func diskFull() async throws {
        guard let point = try mountTmpfs("512k") else { return }
        defer {
            _ = shell("umount '\(point)'")
            try? FileManager.default.removeItem(atPath: point)
        }
        let ring = try makeKeyRing()
        let path = point + "/full.sqlite"
        var acknowledged: [ConversationID: Int] = [:]
        var failure: StoreError?
        do {
            let store = try Store(path: path, keyRing: ring)
            let body = String(repeating: "x", count: 3000)
            outer: for _ in 0..<200 {
                let id: ConversationID
                do { id = try await store.createConversation(owner: "alice", title: "t") } catch let error as StoreError
                {
                    failure = error
                    break
                }
                acknowledged[id] = 0
                for _ in 0..<10 {
                    do {
                        acknowledged[id] = try await store.append(NewMessage(role: "user", body: body), to: id)
                    } catch let error as StoreError {
                        failure = error
                        break outer
                    }
                }
            }
        }
        let error = try #require(failure, "the 512 KiB file system never filled up")
        #expect(error.code == .diskFull, "\(error)")
        let store = try Store(path: path, keyRing: ring)
        #expect(try await store.integrityCheck() == "ok")
        for (id, last) in acknowledged {
            let history = try await store.history(id)
            #expect(history.map(\.seq) == (0..<last).map { $0 + 1 }, "no gaps and no extra rows in \(id)")
        }
    }

    @Test("a file-size limit (RLIMIT_FSIZE) on a child appending: disk-full, acknowledged messages survive, no gaps")
    func fileSizeLimit() async throws {
        // Runs everywhere, also where no file system can be mounted: the child's writes past the limit
        // fail with EFBIG (SIGXFSZ is ignored, and that disposition survives exec), as a full disk would.
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = dir.file("limit.sqlite"), key = dir.file("limit.key")
        try makeKeyRing().createKeyFile(at: key)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", "trap '' XFSZ; ulimit -f 512; exec \"$0\" bench store-probe --database \"$1\" --key-file \"$2\"",
            try enclaveExecutable().path, db, key,
        ]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus != 0)
        #expect(stderr.contains("disk-full"), "\(stderr)")
        var acknowledged: [String: Set<Int>] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] != "conversation", let seq = Int(fields[1]) {
                acknowledged[String(fields[0]), default: []].insert(seq)
            }
        }
        #expect(acknowledged.values.map(\.count).reduce(0, +) >= 10, "the limit hit before any append")
        let store = try Store(path: db, keyRing: KeyRing.load(.file(key)))
        #expect(try await store.integrityCheck() == "ok")
        for (raw, seqs) in acknowledged {
            let id = try #require(ConversationID(rawValue: raw))
            let history = try await store.history(id)
            #expect(history.map(\.seq) == Array(1...history.count), "no gaps, no half-written rows")
            #expect(seqs.isSubset(of: Set(history.map(\.seq))))
            #expect(history.allSatisfy { $0.body == "probe \(raw)" })
        }
    }
}
