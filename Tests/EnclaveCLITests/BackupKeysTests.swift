// Backups and master-key rotation through the real binary: `keys rotate` keeps in the key file every
// master key version a kept backup needs and says which, so the backup still restores; once the backup
// is forgotten the next rotation drops the version, and the backup can no longer be restored with the
// key file (a clear `missing-master-key`, target left empty). A wrong key and a newer database are
// refused with their stable codes.
import Foundation
import Testing

/// SHA-256 by the system's `sha256sum` (an oracle outside Enclave's own crypto).
private func sha256Hex(_ data: Data) -> String {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: file) }
    try? data.write(to: file)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    process.arguments = [file.path]
    let out = Pipe()
    process.standardOutput = out
    try? process.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return String(text.prefix(64))
}

@Suite(.serialized) struct BackupKeysTests {
    @Test func rotationKeepsTheVersionsAKeptBackupNeedsUntilItIsForgotten() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("enclave-bk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func run(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
            try EnclaveBinary.run(arguments, stdin: stdin, in: directory)
        }
        #expect(try run(["users", "add", "erin", "--role", "staff"], stdin: "erin-password-12\n").status == 0)
        let taken = try run(["backup", "b1"])
        #expect(taken.status == 0, "\(taken.stderr)")
        let id = try #require(taken.stdout.split(separator: " ").dropFirst().first.map(String.init))
        #expect(taken.stdout.contains("needs master key version(s) 1"))

        let rotated = try run(["keys", "rotate"])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("rotated to master key version 2"))
        #expect(rotated.stdout.contains("kept master key version(s) 1") && rotated.stdout.contains(id))
        let keyFile = directory.appendingPathComponent("data/master.key").path
        let versions = { () -> [String] in
            ((try? String(contentsOfFile: keyFile, encoding: .utf8)) ?? "").split(separator: "\n")
                .filter { !$0.hasPrefix("#") }.compactMap { $0.split(separator: " ").first.map(String.init) }
        }
        #expect(versions() == ["1", "2"])
        let restored = try run(["restore", "b1", "r1", "--key-file", keyFile])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try run(["users", "list", "--data-dir", "r1"]).stdout.contains("erin\t"))

        let wrong = directory.appendingPathComponent("wrong.key")
        try "1 \(String(repeating: "ab", count: 32))\n".write(to: wrong, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: wrong.path)
        let refused = try run(["restore", "b1", "r2", "--key-file", wrong.path])
        #expect(refused.status != 0 && refused.stderr.contains("does not authenticate"))
        #expect(
            (try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("r2").path)) == [])

        // A consistent forgery (a file changed and its hash in the manifest updated) needs the key.
        let forged = directory.appendingPathComponent("forged")
        try FileManager.default.copyItem(at: directory.appendingPathComponent("b1"), to: forged)
        let checkpoints = forged.appendingPathComponent("audit/checkpoints.jsonl")
        let original = try Data(contentsOf: checkpoints)
        let cut = original.dropLast().lastIndex(of: 0x0A).map { original.prefix($0 + 1) } ?? original
        try cut.write(to: checkpoints)
        let manifestURL = forged.appendingPathComponent("manifest.json")
        let manifest = try String(contentsOf: manifestURL, encoding: .utf8)
            .replacingOccurrences(of: sha256Hex(original), with: sha256Hex(cut))
            .replacingOccurrences(of: "\"bytes\" : \(original.count)", with: "\"bytes\" : \(cut.count)")
        try manifest.write(to: manifestURL, atomically: true, encoding: .utf8)
        let forgery = try run(["restore", "forged", "r4", "--key-file", keyFile])
        #expect(forgery.status != 0 && forgery.stderr.contains("does not authenticate"), "\(forgery.stderr)")
        let unforged = try run(["restore", "b1", "r5", "--key-file", keyFile])
        #expect(unforged.status == 0, "\(unforged.stderr)")

        #expect(try run(["backup", "--forget", id]).status == 0)
        let cleaned = try run(["keys", "rotate"])
        #expect(cleaned.status == 0 && cleaned.stdout.contains("removed retired keys"))
        #expect(versions() == ["2"])
        let orphaned = try run(["restore", "b1", "r3", "--key-file", keyFile])
        #expect(orphaned.status != 0 && orphaned.stderr.contains("missing-master-key"))
    }

    @Test func aDatabaseFromANewerReleaseIsRefusedWithAStableCode() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "enclave-new-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(
            try EnclaveBinary.run(
                ["users", "add", "fay", "--role", "staff"], stdin: "fay-password-123\n", in: directory
            )
            .status == 0)
        // SQLite's file format: the user version is the 4-byte big-endian integer at offset 60 of the
        // header (the last connection's close has checkpointed the WAL into the file).
        let database = directory.appendingPathComponent("data/enclave.db")
        var bytes = try Data(contentsOf: database)
        try #require(!FileManager.default.fileExists(atPath: database.path + "-wal") && bytes.count > 100)
        let current = bytes[60..<64].reduce(0) { $0 << 8 | Int($1) }
        #expect(current >= 4)
        bytes.replaceSubrange(60..<64, with: withUnsafeBytes(of: UInt32(current + 1).bigEndian) { Data($0) })
        try bytes.write(to: database)
        let listed = try EnclaveBinary.run(["users", "list"], in: directory)
        #expect(listed.status != 0)
        #expect(listed.stderr.contains("database-too-new") && listed.stderr.contains("newer release"))
    }
}
