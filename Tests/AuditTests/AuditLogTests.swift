import EnclaveCrypto
// AuditLog: durable appends that continue one chain across reopenings, pseudonymised origins, signed
// checkpoints (to the file and to a configured command), group commit, and fail-closed behaviour
// when the file goes away, is replaced, or cannot be opened.
import Foundation
import Testing

@testable import Audit

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct AuditLogTests {
    private func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func appendIsOnDiskWhenItReturnsAndChainsRecords() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try await openTestLog(directory.path)
        let events = SampleEvents.events(3, seed: 1)
        var seqs: [UInt64] = []
        for event in events { seqs.append(try await log.append(event)) }
        #expect(seqs == [1, 2, 3])
        let written = try lines(directory.file("audit.jsonl"))
        #expect(written.count == 3)
        let records = try written.map { try AuditRecord(line: Array($0.utf8)[...]) }
        #expect(records[0].prev == AuditRecord.genesisHash)
        for index in 1..<3 {
            #expect(records[index].prev == (try SHA256.hash(Array(written[index - 1].utf8)).hexString))
        }
        let keys = try TestKeys.keys()
        for record in records {
            let expected = try HMACSHA256.authenticate(record.authenticatedBytes, key: keys.mac).hexString
            #expect(record.mac == expected)
            #expect(record.event.actor == events[Int(record.seq) - 1].actor)
        }
    }

    @Test func storesOriginsOnlyAsKeyedHMACs() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try await openTestLog(directory.path)
        _ = try await log.append(AuditEvent(actor: "alice", role: "staff", origin: "192.0.2.77", action: "auth.login"))
        let text = try String(contentsOfFile: directory.file("audit.jsonl"), encoding: .utf8)
        #expect(!text.contains("192.0.2.77"))
        let pseudonym = try AuditLog.pseudonym("192.0.2.77", macKey: TestKeys.keys().mac)
        #expect(pseudonym.hasPrefix("hmac:") && pseudonym.count == 37)
        #expect(text.contains(pseudonym))
        #expect(try log.pseudonym("192.0.2.77") == pseudonym)
        #expect(try log.pseudonym("192.0.2.78") != pseudonym)
    }

    @Test func reopeningContinuesTheChainAndRefusesAWrongKey() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let log = try await openTestLog(directory.path)
            _ = try await log.append(contentsOf: SampleEvents.events(5, seed: 2))
            try await log.close()
        }
        let reopened = try await openTestLog(directory.path)
        #expect(reopened.count == 5)
        #expect(try await reopened.append(SampleEvents.events(1, seed: 3)[0]) == 6)
        let report = try AuditVerifier.verify(
            directory: directory.path, macKey: TestKeys.keys().mac, publicKey: testPublicKey(directory.path))
        #expect(report.isValid && report.recordsVerified == 6 && report.latestCheckpoint == 5)

        let otherKeys = try AuditKeys(master: SymmetricKey(bytes: [UInt8](repeating: 9, count: 32)))
        let signer = try AuditSigningKey.load(
            path: directory.file("signing.key"), sealingKey: TestKeys.keys().signingSeal)
        await #expect(throws: AuditError.self) {
            _ = try await AuditLog(directory: directory.path, macKey: otherKeys.mac, signer: signer)
        }
        await #expect(throws: AuditError.self) {
            _ = try await AuditLog(directory: directory.path, macKey: TestKeys.keys().mac, signer: Ed25519PrivateKey())
        }
    }

    @Test func writesSignedCheckpointsEveryNRecordsAndOnClose() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let received = directory.file("forwarded.txt")
        let log = try await openTestLog(directory.path, every: 10, command: ["/bin/sh", "-c", "cat >> '\(received)'"])
        for event in SampleEvents.events(25, seed: 4) { _ = try await log.append(event) }
        try await log.close()
        let checkpoints = try lines(directory.file("checkpoints.jsonl"))
        #expect(checkpoints.count == 3)
        let parsed = checkpoints.compactMap { AuditCheckpoint(line: Array($0.utf8)[...]) }
        #expect(parsed.map(\.count) == [10, 20, 25])
        let publicKey = try testPublicKey(directory.path)
        #expect(parsed.allSatisfy { $0.isValid(publicKey: publicKey) })
        let logLines = try lines(directory.file("audit.jsonl"))
        #expect(parsed[1].head == (try SHA256.hash(Array(logLines[19].utf8)).hexString))
        #expect(try lines(received) == checkpoints)
        #expect(log.checkpointCommandFailures == 0)
    }

    @Test func writesTimeBasedCheckpointsWhenTheIntervalHasPassed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let keys = try TestKeys.keys()
        let signer = try AuditSigningKey.loadOrCreate(directory: directory.path, sealingKey: keys.signingSeal)
        // An interval of zero has always passed: every flush is followed by a checkpoint.
        let log = try await AuditLog(
            directory: directory.path, macKey: keys.mac, signer: signer, checkpointEvery: 1000,
            checkpointInterval: .zero)
        for event in SampleEvents.events(3, seed: 16) { _ = try await log.append(event) }
        try await log.checkpoint()
        let counts = try lines(directory.file("checkpoints.jsonl")).compactMap {
            AuditCheckpoint(line: Array($0.utf8)[...])?.count
        }
        #expect(counts == [1, 2, 3])
    }

    @Test func concurrentAppendsShareFsyncsAndGetDistinctSequenceNumbers() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try await openTestLog(directory.path, every: 64)
        let events = SampleEvents.events(200, seed: 5)
        let seqs = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for event in events { group.addTask { try await log.append(event) } }
            return try await group.reduce(into: [UInt64]()) { $0.append($1) }
        }
        #expect(seqs.sorted() == Array(1...200))
        let report = try AuditVerifier.verify(
            directory: directory.path, macKey: TestKeys.keys().mac, publicKey: testPublicKey(directory.path))
        #expect(report.isValid && report.recordsVerified == 200)
    }

    @Test func failsClosedWhenTheFileIsRemovedOrReplaced() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try await openTestLog(directory.path)
        _ = try await log.append(SampleEvents.events(1, seed: 6)[0])
        try FileManager.default.removeItem(atPath: directory.file("audit.jsonl"))
        await #expect(throws: AuditError.self) { _ = try await log.append(SampleEvents.events(1, seed: 7)[0]) }
        // Poisoned: later appends fail too, even once a file exists again.
        _ = FileManager.default.createFile(atPath: directory.file("audit.jsonl"), contents: Data())
        await #expect(throws: AuditError.self) { _ = try await log.append(SampleEvents.events(1, seed: 8)[0]) }

        let second = try TemporaryDirectory()
        defer { second.remove() }
        let other = try await openTestLog(second.path)
        _ = try await other.append(SampleEvents.events(1, seed: 9)[0])
        try FileManager.default.removeItem(atPath: second.file("audit.jsonl"))
        try FileManager.default.createSymbolicLink(atPath: second.file("audit.jsonl"), withDestinationPath: "/dev/full")
        await #expect(throws: AuditError.self) { _ = try await other.append(SampleEvents.events(1, seed: 10)[0]) }
    }

    @Test func refusesToOpenWhereItCannotWrite() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // A directory where the log file should be: fails for every user, root included.
        try FileManager.default.createDirectory(
            atPath: directory.file("audit.jsonl"), withIntermediateDirectories: false)
        await #expect(throws: AuditError.self) { _ = try await openTestLog(directory.path) }
        if geteuid() != 0 {
            let readOnly = try TemporaryDirectory()
            defer { readOnly.remove() }
            _ = try testPublicKey(readOnly.path)
            chmod(readOnly.path, 0o500)
            defer { chmod(readOnly.path, 0o700) }
            await #expect(throws: AuditError.self) { _ = try await openTestLog(readOnly.path) }
        }
    }

    @Test func cutsATornTailAndRecordsTheRepair() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let log = try await openTestLog(directory.path)
            _ = try await log.append(contentsOf: SampleEvents.events(4, seed: 12))
        }
        let handle = try #require(FileHandle(forWritingAtPath: directory.file("audit.jsonl")))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"seq":5,"time":"2026"#.utf8))
        try handle.close()
        let log = try await openTestLog(directory.path)
        #expect(log.count == 5)
        let last = try #require(try lines(directory.file("audit.jsonl")).last)
        let record = try AuditRecord(line: Array(last.utf8)[...])
        #expect(record.event.action == AuditAction.auditRecover && record.event.detail == "bytes=21")
        let report = try AuditVerifier.verify(
            directory: directory.path, macKey: TestKeys.keys().mac, publicKey: testPublicKey(directory.path))
        #expect(report.isValid)
    }

    @Test func refusesALogShorterThanItsLatestCheckpoint() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let log = try await openTestLog(directory.path)
            _ = try await log.append(contentsOf: SampleEvents.events(6, seed: 13))
            try await log.close()
        }
        let path = directory.file("audit.jsonl")
        let kept = try lines(path).prefix(5).joined(separator: "\n") + "\n"
        try kept.write(toFile: path, atomically: false, encoding: .utf8)
        await #expect(throws: AuditError.self) { _ = try await openTestLog(directory.path) }
    }
}
