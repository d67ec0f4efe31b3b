import EnclaveCrypto
// The audit log's own retention (AuditPrune): records before a cut-off leave the front of the log and a
// signed prune mark starts the chain. The expected lines come from the file as it stood before the prune
// (an independent copy), never from the pruner. Shown here: the pruned log verifies (full and offline),
// keeps byte-identical records, and takes new ones from every writer; the last record always stays; a
// prefix that does not verify is never pruned; a prefix cut without the key, a removed or forged mark,
// and a replacement no mark explains are all caught; a crash between the mark and the rename verifies and
// is finished by the next prune; a backup of a pruned log verifies.
import Foundation
import Testing

@testable import Audit

@Suite struct AuditPruneTests {
    /// SampleEvents' record i (1-based) was written at base + (i - 1) s.
    private static let base: Int64 = 1_795_923_600_000

    private func cutoff(keepingFrom seq: Int64) -> UTCMillis { UTCMillis(Self.base + (seq - 1) * 1000) }

    private func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    private func signer(_ directory: String) throws -> Ed25519PrivateKey {
        try AuditSigningKey.loadOrCreate(directory: directory, sealingKey: TestKeys.keys().signingSeal)
    }

    private func prune(_ directory: String, keepingFrom seq: Int64, dryRun: Bool = false) throws -> AuditPruneResult {
        try AuditPrune.prune(
            directory: directory, before: cutoff(keepingFrom: seq), macKey: TestKeys.keys().mac,
            signer: signer(directory), dryRun: dryRun)
    }

    private func verify(_ directory: String, full: Bool = true) throws -> AuditVerificationReport {
        try AuditVerifier.verify(
            directory: directory, macKey: full ? TestKeys.keys().mac : nil, publicKey: testPublicKey(directory))
    }

    /// A log of `count` sample records in a new directory, closed (so it ends on a checkpoint).
    private func makeLog(_ count: Int) async throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory("prune")
        let log = try await openTestLog(directory.path, every: 7)
        _ = try await log.append(contentsOf: SampleEvents.events(count, seed: 42))
        try await log.close()
        return directory
    }

    @Test func theExpiredPrefixGoesAndTheRestVerifiesByteForByte() async throws {
        let directory = try await makeLog(50)
        defer { directory.remove() }
        let before = try lines(directory.file(AuditLog.logFileName))
        let dry = try prune(directory.path, keepingFrom: 21, dryRun: true)
        #expect(dry.firstBefore == 1 && dry.through == 20 && dry.mark == nil)
        #expect(try lines(directory.file(AuditLog.logFileName)) == before)

        let result = try prune(directory.path, keepingFrom: 21)
        #expect(result.firstBefore == 1 && result.through == 20 && result.removed == 20)
        #expect(result.mark?.first == 21)
        #expect(result.mark?.prev == (try SHA256.hash(Array(before[19].utf8)).hexString))
        #expect(try lines(directory.file(AuditLog.logFileName)) == Array(before[20...]))
        for full in [true, false] {
            let report = try verify(directory.path, full: full)
            #expect(report.isValid, "\(String(describing: report.failure))")
            #expect(report.prunedThrough == 20 && report.recordsVerified == 50)
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file(AuditLog.logFileName + ".prune")))

        // A writer opened afterwards continues the chain; a second prune moves the start forward.
        let log = try await openTestLog(directory.path, every: 7)
        #expect(try await log.append(SampleEvents.events(1, seed: 43)[0]) == 51)
        try await log.close()
        let second = try prune(directory.path, keepingFrom: 31)
        #expect(second.firstBefore == 21 && second.through == 30)
        #expect(try lines(directory.file(AuditPruneMark.fileName)).count == 2)
        #expect(try verify(directory.path).prunedThrough == 30)
        #expect(try verify(directory.path).isValid)
    }

    @Test func theLastRecordIsAlwaysKept() async throws {
        let directory = try await makeLog(5)
        defer { directory.remove() }
        let result = try prune(directory.path, keepingFrom: 1000)
        #expect(result.through == 4)
        #expect(try lines(directory.file(AuditLog.logFileName)).count == 1)
        #expect(try verify(directory.path).isValid)
        #expect(try prune(directory.path, keepingFrom: 1000).removed == 0)
    }

    @Test func aPrefixThatDoesNotVerifyIsNeverPruned() async throws {
        let directory = try await makeLog(30)
        defer { directory.remove() }
        let path = directory.file(AuditLog.logFileName)
        var text = try lines(path)
        // One hex digit of record 5's MAC changed.
        var record = Array(text[4])
        let digit = record.count - 3
        record[digit] = record[digit] == "0" ? "1" : "0"
        text[4] = String(record)
        try (text.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: AuditError.self) { _ = try prune(directory.path, keepingFrom: 21) }
        #expect(try lines(path) == text)
        #expect(!FileManager.default.fileExists(atPath: directory.file(AuditPruneMark.fileName)))
    }

    @Test func cutsAndMarksWithoutTheKeyAreCaught() async throws {
        let directory = try await makeLog(40)
        defer { directory.remove() }
        _ = try prune(directory.path, keepingFrom: 11)
        let logPath = directory.file(AuditLog.logFileName)
        let marksPath = directory.file(AuditPruneMark.fileName)
        let pruned = try lines(logPath)
        let marks = try String(contentsOfFile: marksPath, encoding: .utf8)

        // One more record cut from the front, as a pruner without the key would.
        try (pruned.dropFirst().joined(separator: "\n") + "\n").write(
            toFile: logPath, atomically: false, encoding: .utf8)
        for full in [true, false] { #expect(try !verify(directory.path, full: full).isValid) }
        try (pruned.joined(separator: "\n") + "\n").write(toFile: logPath, atomically: false, encoding: .utf8)
        #expect(try verify(directory.path).isValid)

        // The mark removed.
        try FileManager.default.removeItem(atPath: marksPath)
        #expect(try verify(directory.path).failure?.reason.contains("no signed prune mark") == true)

        // The mark moved forward by hand (its signature no longer covers it).
        try marks.replacingOccurrences(of: "\"first\":11", with: "\"first\":12")
            .write(toFile: marksPath, atomically: false, encoding: .utf8)
        try (pruned.dropFirst().joined(separator: "\n") + "\n").write(
            toFile: logPath, atomically: false, encoding: .utf8)
        #expect(try verify(directory.path).failure?.file == .prunes)

        // A mark signed with another key.
        let stranger = try Ed25519PrivateKey()
        let forged = try AuditPruneMark.make(
            first: 12, prev: String(repeating: "0", count: 64), before: .now, signer: stranger)
        try (String(decoding: forged.line, as: UTF8.self) + "\n").write(
            toFile: marksPath, atomically: false, encoding: .utf8)
        #expect(try verify(directory.path).failure?.file == .prunes)
    }

    @Test func writersFollowThePruneAndAnyOtherReplacementFailsClosed() async throws {
        let directory = try await makeLog(30)
        defer { directory.remove() }
        let serverLog = try await openTestLog(directory.path, every: 7)
        let operatorLog = try await openTestLog(directory.path, every: 7)
        #expect(try await serverLog.append(SampleEvents.events(1, seed: 1)[0]) == 31)
        let before = try lines(directory.file(AuditLog.logFileName))

        // Appends race a prune: every acknowledged record must be in the pruned log.
        let appends = Task {
            var seqs: [UInt64] = []
            for index in 0..<40 {
                let log = index.isMultiple(of: 2) ? serverLog : operatorLog
                seqs.append(try await log.append(AuditEvent(actor: "racer", role: "staff", action: "test.race")))
            }
            return seqs
        }
        let result = try prune(directory.path, keepingFrom: 16)
        let seqs = try await appends.value
        #expect(result.through == 15)
        #expect(Set(seqs).count == 40)
        let after = try lines(directory.file(AuditLog.logFileName))
        let kept = try Set(after.map { try AuditRecord(line: Array($0.utf8)[...]).seq })
        #expect(seqs.allSatisfy { kept.contains($0) })
        #expect(Array(after.prefix(16)) == Array(before[15..<31]))
        #expect(try await serverLog.append(AuditEvent(actor: "after", role: "staff", action: "test.after")) == 72)
        try await serverLog.close()
        try await operatorLog.close()
        #expect(try verify(directory.path).isValid)

        // An older copy put back (a rollback no mark explains): the writer refuses, as before pruning existed.
        let rolledBack = try await openTestLog(directory.path, every: 7)
        try (before.joined(separator: "\n") + "\n").write(
            toFile: directory.file("old.jsonl"), atomically: false, encoding: .utf8)
        _ = rename(directory.file("old.jsonl"), directory.file(AuditLog.logFileName))
        await #expect(throws: AuditError.self) {
            _ = try await rolledBack.append(AuditEvent(actor: "late", role: "staff", action: "test.late"))
        }
    }

    @Test func aCrashBetweenTheMarkAndTheRenameVerifiesAndTheNextPruneFinishes() async throws {
        let directory = try await makeLog(30)
        defer { directory.remove() }
        let logPath = directory.file(AuditLog.logFileName)
        let whole = try Data(contentsOf: URL(fileURLWithPath: logPath))
        _ = try prune(directory.path, keepingFrom: 11)
        // As if the process died after writing the mark: the long log is back in place.
        try whole.write(to: URL(fileURLWithPath: logPath))
        let report = try verify(directory.path)
        #expect(report.isValid && report.prunedThrough == 0)
        let again = try prune(directory.path, keepingFrom: 11)
        #expect(again.through == 10 && again.mark?.first == 11)
        #expect(try lines(directory.file(AuditPruneMark.fileName)).count == 1)
        #expect(try verify(directory.path).prunedThrough == 10)
    }

    @Test func aBackupOfAPrunedLogVerifies() async throws {
        let directory = try await makeLog(40)
        defer { directory.remove() }
        _ = try prune(directory.path, keepingFrom: 26)
        let log = try await openTestLog(directory.path, every: 7)
        _ = try await log.append(contentsOf: SampleEvents.events(3, seed: 5))
        try await log.close()
        // The backup carries the sealed root key along; this test log has none, so a stand-in file goes.
        _ = FileManager.default.createFile(atPath: directory.file(AuditRootKey.fileName), contents: Data([1]))
        let copy = try TemporaryDirectory("prune-backup")
        defer { copy.remove() }
        let target = copy.path + "/audit"
        let records = try AuditBackup.copy(from: directory.path, to: target)
        #expect(records == 43)
        let report = try AuditVerifier.verify(
            directory: target, macKey: TestKeys.keys().mac, publicKey: testPublicKey(directory.path))
        #expect(report.isValid && report.prunedThrough == 25 && report.recordsVerified == 43)
    }
}
