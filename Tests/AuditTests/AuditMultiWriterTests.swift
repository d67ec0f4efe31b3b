import EnclaveCrypto
// Several writers on one log (the server and operator commands run beside it): each takes the log's
// `flock`, continues the chain after whatever another wrote, and the result is one gap-free chain with
// strictly increasing checkpoints that verifies. Separate opens of the file stand in for separate
// processes (flock locks belong to the open file, so two opens exclude each other as two processes do).
import Foundation
import Testing

@testable import Audit

@Suite struct AuditMultiWriterTests {
    @Test func twoLogsAndOneShotAppendsInterleaveIntoOneChain() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try await openTestLog(directory.path, every: 7)
        let other = try await openTestLog(directory.path, every: 5)
        let signer = try AuditSigningKey.loadOrCreate(
            directory: directory.path, sealingKey: TestKeys.keys().signingSeal)
        var seqs: [UInt64] = []
        for (index, event) in SampleEvents.events(60, seed: 21).enumerated() {
            switch index % 3 {
            case 0: seqs.append(try await server.append(event))
            case 1: seqs.append(try await other.append(event))
            default:
                seqs += try AuditLog.appendOnce(
                    [event], directory: directory.path, macKey: TestKeys.keys().mac, signer: signer)
            }
        }
        #expect(seqs == Array(1...60))
        try await server.close()
        try await other.close()
        let report = try AuditVerifier.verify(
            directory: directory.path, macKey: TestKeys.keys().mac, publicKey: signer.publicKey)
        #expect(report.isValid, "\(String(describing: report.failure))")
        #expect(report.recordsVerified == 60 && report.latestCheckpoint == 60)
    }

    @Test func concurrentWritersNeverForkTheChain() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try await openTestLog(directory.path, every: 10)
        let second = try await openTestLog(directory.path, every: 10)
        let events = SampleEvents.events(80, seed: 22)
        let seqs = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for (index, event) in events.enumerated() {
                let log = index.isMultiple(of: 2) ? first : second
                group.addTask { try await log.append(event) }
            }
            return try await group.reduce(into: [UInt64]()) { $0.append($1) }
        }
        #expect(seqs.sorted() == Array(1...80))
        try await first.close()
        try await second.close()
        let report = try AuditVerifier.verify(
            directory: directory.path, macKey: TestKeys.keys().mac, publicKey: testPublicKey(directory.path))
        #expect(report.isValid && report.recordsVerified == 80, "\(String(describing: report.failure))")
    }

    @Test func aTornLineLeftByAnotherWriterIsCutOffAndRecorded() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try await openTestLog(directory.path)
        #expect(try await log.append(SampleEvents.events(1, seed: 26)[0]) == 1)
        // Another process died in the middle of its write: half a line, no LF.
        let handle = try #require(FileHandle(forWritingAtPath: directory.file("audit.jsonl")))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"seq\":2,\"time\":\"2026-".utf8))
        try handle.close()
        #expect(try await log.append(SampleEvents.events(1, seed: 27)[0]) == 3)
        try await log.close()
        let records = try AuditReader.search(directory: directory.path, query: AuditQuery())
        #expect(records.map(\.seq) == [1, 2, 3])
        #expect(records[1].event.action == "audit.recover" && records[1].event.detail == "bytes=22")
        let report = try AuditVerifier.verify(
            directory: directory.path, macKey: TestKeys.keys().mac, publicKey: testPublicKey(directory.path))
        #expect(report.isValid && report.recordsVerified == 3, "\(String(describing: report.failure))")
    }

    @Test func aForeignRecordStopsTheNextWriter() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try await openTestLog(directory.path)
        _ = try await log.append(SampleEvents.events(1, seed: 23)[0])
        // A writer with another MAC key refuses to chain after this log's records...
        let stranger = try AuditKeys(master: SymmetricKey(bytes: [UInt8](repeating: 7, count: 32)))
        #expect(throws: AuditError.self) {
            try AuditLog.appendOnce(
                SampleEvents.events(1, seed: 24), directory: directory.path, macKey: stranger.mac,
                signer: try Ed25519PrivateKey())
        }
        // ...and a record it wrote elsewhere, pasted onto this log, stops this log's next append.
        let elsewhere = try TemporaryDirectory()
        defer { elsewhere.remove() }
        _ = try AuditLog.appendOnce(
            SampleEvents.events(2, seed: 24), directory: elsewhere.path, macKey: stranger.mac,
            signer: try Ed25519PrivateKey())
        let foreign = try String(contentsOfFile: elsewhere.file("audit.jsonl"), encoding: .utf8)
            .split(separator: "\n")[1]
        let handle = try #require(FileHandle(forWritingAtPath: directory.file("audit.jsonl")))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((foreign + "\n").utf8))
        try handle.close()
        await #expect(throws: AuditError.self) { try await log.append(SampleEvents.events(1, seed: 25)[0]) }
    }
}
