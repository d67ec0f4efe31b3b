import EnclaveCrypto
import EnclaveTestSupport
// AuditVerifier: the tamper matrix of issue 8 (a 10,000-record log; 1,000 seeded trials each of a
// byte flip, a deleted record, two swapped records, a forged inserted record and a tail truncation
// after the latest checkpoint), each of which must be caught with the first bad record named; and the
// untouched log verifying with and without secrets, offline on a copy in another directory.
//
// Speed: each trial resumes a copy of the verifier state saved at the last multiple of 50 records
// before the tampered spot (the verifier is a value type) and feeds the tampered bytes as slices of the
// original, so a trial verifies ~25 records instead of 10,000. Nothing before the resume point is
// tampered with, so this skips no check that could catch the tampering.
import Foundation
import Testing

@testable import Audit

/// A 10,000-record log (checkpoint every 1,000, the last at 10,000) and the verifier's resume points.
final class TamperFixture: Sendable {
    static let recordCount = 10_000
    static let resumeStride = 50

    let bytes: [UInt8]
    let checkpointBytes: [UInt8]
    /// `lineStarts[i]` is the byte offset of line i+1; `lineStarts[recordCount]` is the file size.
    let lineStarts: [Int]
    let checkpoints: [AuditCheckpoint]
    let macKey: SymmetricKey
    let publicKey: Ed25519PublicKey
    /// `resumeFull[k]` / `resumeOffline[k]`: verifier state after k * stride records.
    let resumeFull: [AuditChainVerifier]
    let resumeOffline: [AuditChainVerifier]

    /// Built once and shared by the tests of this file (building it is most of their cost).
    static let shared = Task { try await TamperFixture() }

    private init() async throws {
        let directory = try TemporaryDirectory("tamper")
        defer { directory.remove() }
        let log = try await openTestLog(directory.path, every: 1000)
        let events = SampleEvents.events(Self.recordCount, seed: 2026)
        for start in stride(from: 0, to: events.count, by: 1000) {
            _ = try await log.append(contentsOf: Array(events[start..<start + 1000]))
        }
        bytes = try Array(Data(contentsOf: URL(fileURLWithPath: directory.file("audit.jsonl"))))
        var starts = [0]
        for (index, byte) in bytes.enumerated() where byte == 0x0A { starts.append(index + 1) }
        lineStarts = starts
        macKey = try TestKeys.keys().mac
        publicKey = try testPublicKey(directory.path)
        checkpointBytes = try Array(Data(contentsOf: URL(fileURLWithPath: directory.file("checkpoints.jsonl"))))
        checkpoints = try AuditVerifier.checkpoints(from: checkpointBytes, publicKey: publicKey)
        var full = AuditChainVerifier(macKey: macKey, checkpoints: checkpoints)
        var offline = AuditChainVerifier(macKey: nil, checkpoints: checkpoints)
        var savedFull = [full]
        var savedOffline = [offline]
        for line in 0..<Self.recordCount {
            let slice = bytes[starts[line]..<starts[line + 1]]
            _ = full.feed(slice)
            _ = offline.feed(slice)
            if (line + 1) % Self.resumeStride == 0 {
                savedFull.append(full)
                savedOffline.append(offline)
            }
        }
        resumeFull = savedFull
        resumeOffline = savedOffline
    }

    /// Writes the untouched log and checkpoint files into `directory`.
    func write(to directory: TemporaryDirectory) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: directory.file("audit.jsonl")))
        try Data(checkpointBytes).write(to: URL(fileURLWithPath: directory.file("checkpoints.jsonl")))
    }

    /// The 1-based line holding byte `offset` (its LF counts as part of the line).
    func line(containing offset: Int) -> Int {
        var low = 0
        var high = Self.recordCount
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return low + 1
    }

    func lineBytes(_ line: Int) -> ArraySlice<UInt8> { bytes[lineStarts[line - 1]..<lineStarts[line]] }

    /// Verifies the log whose first `line - 1` lines are untouched and whose remaining bytes are `rest`.
    func verify(firstTamperedLine line: Int, rest: [ArraySlice<UInt8>], withMAC: Bool) -> AuditVerificationReport {
        let index = (line - 1) / Self.resumeStride
        var verifier = withMAC ? resumeFull[index] : resumeOffline[index]
        let resumeOffset = lineStarts[index * Self.resumeStride]
        // `rest` begins at `lineStarts[line - 1]`; hand over the untouched lines since the resume point first.
        var segments = [bytes[resumeOffset..<lineStarts[line - 1]]]
        segments.append(contentsOf: rest)
        for segment in segments where !verifier.feed(segment) { break }
        return verifier.finish()
    }
}

@Suite(.serialized) struct AuditVerifierTests {
    static let trials = 1000

    @Test func tamperMatrixCatchesEveryTrialAndNamesTheFirstBadRecord() async throws {
        let fixture = try await TamperFixture.shared.value
        let count = TamperFixture.recordCount
        var random = SplitMix64(seed: 8)
        var caught: [String: Int] = [:]
        func check(_ kind: String, line: Int, rest: [ArraySlice<UInt8>]) {
            let report = fixture.verify(firstTamperedLine: line, rest: rest, withMAC: true)
            if report.failure?.line == UInt64(line) && report.failure?.file == .log {
                caught[kind, default: 0] += 1
            } else {
                Issue.record("\(kind) at line \(line): \(report.failure.map(String.init(describing:)) ?? "not caught")")
            }
        }
        let all = fixture.bytes[...]
        let end = fixture.bytes.count
        for _ in 0..<Self.trials {
            // Byte flip: XOR one byte of the file with a non-zero mask.
            let offset = Int.random(in: 0..<end, using: &random)
            let mask = UInt8.random(in: 1...255, using: &random)
            let line = fixture.line(containing: offset)
            check(
                "flip", line: line,
                rest: [
                    all[fixture.lineStarts[line - 1]..<offset], [fixture.bytes[offset] ^ mask], all[(offset + 1)...],
                ])

            // Deletion of record d.
            let d = Int.random(in: 1...count, using: &random)
            check("delete", line: d, rest: [all[fixture.lineStarts[d]...]])

            // Swap of records i < j.
            let i = Int.random(in: 1..<count, using: &random)
            let j = Int.random(in: (i + 1)...count, using: &random)
            check(
                "swap", line: i,
                rest: [
                    fixture.lineBytes(j), all[fixture.lineStarts[i]..<fixture.lineStarts[j - 1]], fixture.lineBytes(i),
                    all[fixture.lineStarts[j]...],
                ])

            // Insertion before record k (k = count + 1 appends): a forger who knows the format and the
            // chain (seq, prev) but not the MAC key.
            let k = Int.random(in: 1...(count + 1), using: &random)
            let prev =
                k == 1
                ? AuditRecord.genesisHash
                : try SHA256.hash(Array(fixture.lineBytes(k - 1).dropLast())).hexString
            let forgedMAC = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }.hexString
            var event = SampleEvents.event(k, using: &random)
            event.origin = "-"
            let forged = AuditRecord(seq: UInt64(k), event: event, prev: prev, mac: forgedMAC).line + [0x0A]
            check("insert", line: k, rest: [forged[...], all[fixture.lineStarts[k - 1]...]])

            // Truncation of the tail after the latest checkpoint (which covers all 10,000 records).
            let cut = Int.random(in: 0..<end, using: &random)
            check(
                "truncate", line: fixture.line(containing: cut),
                rest: [all[fixture.lineStarts[fixture.line(containing: cut) - 1]..<cut]])
        }
        #expect(
            caught == [
                "flip": Self.trials, "delete": Self.trials, "swap": Self.trials, "insert": Self.trials,
                "truncate": Self.trials,
            ])
    }

    @Test func offlineCheckCatchesTamperingInsideTheCheckpointedLog() async throws {
        let fixture = try await TamperFixture.shared.value
        let all = fixture.bytes[...]
        var random = SplitMix64(seed: 9)
        for _ in 0..<200 {
            let offset = Int.random(in: 0..<fixture.bytes.count, using: &random)
            let line = fixture.line(containing: offset)
            let flipped = fixture.verify(
                firstTamperedLine: line,
                rest: [
                    all[fixture.lineStarts[line - 1]..<offset], [fixture.bytes[offset] ^ 0x01], all[(offset + 1)...],
                ], withMAC: false)
            // Without the MAC key a value change is seen at the next link (or the checkpoint); never later.
            let named = try #require(flipped.failure?.line)
            #expect(named == UInt64(line) || named == UInt64(line + 1))

            let d = Int.random(in: 1...TamperFixture.recordCount, using: &random)
            let deleted = fixture.verify(firstTamperedLine: d, rest: [all[fixture.lineStarts[d]...]], withMAC: false)
            #expect(deleted.failure?.line == UInt64(d))

            let cut = Int.random(in: 0..<fixture.bytes.count, using: &random)
            let line2 = fixture.line(containing: cut)
            let truncated = fixture.verify(
                firstTamperedLine: line2, rest: [all[fixture.lineStarts[line2 - 1]..<cut]], withMAC: false)
            #expect(truncated.failure?.line == UInt64(line2))
        }
    }

    @Test func untouchedLogVerifiesWithAndWithoutSecretsAndOfflineElsewhere() async throws {
        let fixture = try await TamperFixture.shared.value
        let original = try TemporaryDirectory("original")
        defer { original.remove() }
        try fixture.write(to: original)
        let full = try AuditVerifier.verify(
            directory: original.path, macKey: fixture.macKey, publicKey: fixture.publicKey)
        #expect(
            full
                == AuditVerificationReport(
                    recordsVerified: 10_000, checkpoints: 10, latestCheckpoint: 10_000, macChecked: true, failure: nil))

        // The auditor's copy: only the two log files and the exported public key, in another directory.
        let copy = try TemporaryDirectory("auditor")
        defer { copy.remove() }
        for name in ["audit.jsonl", "checkpoints.jsonl"] {
            try FileManager.default.copyItem(atPath: original.file(name), toPath: copy.file(name))
        }
        let exported = fixture.publicKey.rawRepresentation.hexString + "\n"
        let publicKey = try AuditSigningKey.importPublicKey(text: exported)
        let offline = try AuditVerifier.verify(directory: copy.path, macKey: nil, publicKey: publicKey)
        #expect(offline.isValid && offline.recordsVerified == 10_000 && !offline.macChecked)

        // The same copy, tampered inside the checkpointed part, fails offline and names the record.
        var tampered = fixture.bytes
        let target = fixture.lineStarts[4321] + 9
        tampered[target] = tampered[target] == 0x31 ? 0x32 : 0x31
        try Data(tampered).write(to: URL(fileURLWithPath: copy.file("audit.jsonl")))
        let caught = try AuditVerifier.verify(directory: copy.path, macKey: nil, publicKey: publicKey)
        #expect(caught.failure?.line == 4322)

        // A different public key rejects the checkpoints.
        let stranger = try Ed25519PrivateKey().publicKey
        try FileManager.default.removeItem(atPath: copy.file("audit.jsonl"))
        try FileManager.default.copyItem(atPath: original.file("audit.jsonl"), toPath: copy.file("audit.jsonl"))
        let wrongKey = try AuditVerifier.verify(directory: copy.path, macKey: nil, publicKey: stranger)
        #expect(wrongKey.failure?.file == .checkpoints && wrongKey.failure?.line == 1)
    }

    @Test func tamperedCheckpointFileIsNamed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try await openTestLog(directory.path, every: 5)
        _ = try await log.append(contentsOf: SampleEvents.events(5, seed: 14))
        _ = try await log.append(contentsOf: SampleEvents.events(5, seed: 15))
        let path = directory.file("checkpoints.jsonl")
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: #"{"count":10,"#, with: #"{"count":11,"#)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let report = try AuditVerifier.verify(
            directory: directory.path, macKey: nil, publicKey: testPublicKey(directory.path))
        #expect(report.failure?.file == .checkpoints && report.failure?.line == 2)
    }
}
