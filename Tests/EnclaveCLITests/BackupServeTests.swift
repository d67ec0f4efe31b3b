// The online backup's acceptance test: 20 clients chat through a real `enclave serve` (the real model,
// replies cut at 4 tokens) while `enclave backup` runs beside it; the backup restores into a fresh data
// directory with `enclave restore` and the same master key file, `audit verify` passes there, and a
// server started on the restored directory serves, through `/history`, every message acknowledged
// before the backup began, byte-identical to the original server's rows (the restored history is a
// prefix of the original's: nothing changed, nothing invented). A tampered backup and a non-empty target
// are refused.
import Foundation
import Testing

@Suite(.serialized) struct BackupServeTests {
    static let accounts = (0..<5).map { "bk\($0)" }

    /// Logs in on `port` and returns conversation `id`'s `/history` rows.
    static func history(port: Int, user: String, conversation id: String) -> [String] {
        guard let client = try? ChatLoadClient(port: port, timeout: .seconds(120)), client.readBanner() else {
            return []
        }
        _ = client.exchange("/login \(user) \(user)-password")
        _ = client.exchange("/open \(id)")
        let rows = client.exchange("/history").lines.filter { $0.hasPrefix("= ") }
        _ = client.exchange("/quit")
        return rows
    }

    @Test func aBackupTakenWhileTwentyClientsChatRestoresEveryAcknowledgedMessage() throws {
        let served = try ServedDirectory(
            users: Self.accounts, configuration: ChatLoadClient.shortRepliesConfiguration)
        defer { served.stop() }
        try #require(served.port > 0)
        let port = served.port
        // Per client: its conversation, and each message with the time its reply's final OK arrived.
        let conversations = Shared<[Int: String]>([:])
        let acknowledged = Shared<[Int: [(text: String, at: Date)]]>([:])
        let acks = Shared(0)
        let backupStarted = Shared<Date?>(nil)
        let backupResult = Shared<String>("not run")
        let destination = served.directory.appendingPathComponent("backup-1")
        let workingDirectory = served.directory

        let backup = Thread {
            while acks.value < 40 { Thread.sleep(forTimeInterval: 0.02) }
            backupStarted.withLock { $0 = Date() }
            let result = try? EnclaveBinary.run(["backup", destination.path], in: workingDirectory)
            backupResult.withLock { $0 = "\(result?.status ?? -1) \(result?.stdout ?? "") \(result?.stderr ?? "")" }
        }
        backup.start()
        onThreads(20) { index in
            let user = Self.accounts[index % Self.accounts.count]
            guard let client = try? ChatLoadClient(port: port), client.readBanner(),
                client.exchange("/login \(user) \(user)-password").final?.hasPrefix("OK ") == true,
                let opened = client.exchange("/new client \(index)").final, opened.hasPrefix("OK conversation=")
            else { return }
            conversations.withLock { $0[index] = String(opened.dropFirst("OK conversation=".count).prefix(20)) }
            for message in 0..<6 {
                let text = "client \(index) message \(message) about the weather"
                if client.exchange(text).final?.hasPrefix("OK conversation=") == true {
                    let now = Date()
                    acknowledged.withLock { $0[index, default: []].append((text, now)) }
                    acks.withLock { $0 += 1 }
                }
            }
            _ = client.exchange("/quit")
        }
        while backupStarted.value == nil || backupResult.value == "not run" { Thread.sleep(forTimeInterval: 0.05) }
        #expect(backupResult.value.hasPrefix("0 "), "\(backupResult.value)")
        let started = try #require(backupStarted.value)
        #expect(conversations.value.count == 20)
        #expect(acks.value == 120)
        let original = conversations.value.mapValues { _ in [String]() }.merging(
            conversations.value.map { index, id in
                (index, Self.history(port: port, user: Self.accounts[index % 5], conversation: id))
            }, uniquingKeysWith: { $1 })

        // A damaged copy is refused before anything is written.
        let tampered = served.directory.appendingPathComponent("backup-tampered")
        try FileManager.default.copyItem(at: destination, to: tampered)
        let log = tampered.appendingPathComponent("audit/audit.jsonl")
        var bytes = try Data(contentsOf: log)
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: log)
        let refused = try EnclaveBinary.run(
            [
                "restore", tampered.path, served.directory.appendingPathComponent("never").path, "--key-file",
                served.directory.appendingPathComponent("data/master.key").path,
            ], in: served.directory)
        #expect(refused.status != 0 && refused.stderr.contains("does not match the manifest"))
        #expect(
            !FileManager.default.fileExists(atPath: served.directory.appendingPathComponent("never/enclave.db").path))

        let keyFile = served.directory.appendingPathComponent("data/master.key").path
        let restored = try ServedDirectory(prepare: { directory in
            let result = try EnclaveBinary.run(
                ["restore", destination.path, directory.appendingPathComponent("data").path, "--key-file", keyFile],
                in: directory)
            guard result.status == 0 else {
                throw CocoaError(.fileReadCorruptFile, userInfo: ["stderr": result.stderr])
            }
            let again = try EnclaveBinary.run(
                ["restore", destination.path, directory.appendingPathComponent("data").path, "--key-file", keyFile],
                in: directory)
            #expect(again.status != 0 && again.stderr.contains("not an empty directory"))
        })
        defer { restored.stop() }
        try #require(restored.port > 0)
        let verified = try EnclaveBinary.run(["audit", "verify"], in: restored.directory)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")

        var before = 0
        for (index, id) in conversations.value {
            let rows = Self.history(port: restored.port, user: Self.accounts[index % 5], conversation: id)
            let full = original[index] ?? []
            #expect(rows.count <= full.count && Array(full.prefix(rows.count)) == rows, "client \(index)")
            for message in acknowledged.value[index] ?? [] where message.at < started {
                before += 1
                #expect(
                    rows.contains { $0.contains("\tuser\t") && $0.hasSuffix("\t" + message.text) },
                    "client \(index): acknowledged before the backup, missing: \(message.text)")
            }
        }
        #expect(before >= 40)
        print("backup-serve: \(before) of 120 messages acknowledged before the backup began; all restored")
    }
}
