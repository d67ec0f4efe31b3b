public import EnclaveCrypto
// Verification of an audit directory, by a holder of the MAC key (every record's MAC, the chain and
// the signed checkpoints) or offline by an auditor who holds only the public key (the chain and the
// checkpoints). `AuditChainVerifier` is a streaming state machine over the log's bytes: memory does
// not grow with the log, and because it is a value, a caller can keep a copy as a resume point.
//
// What each check catches, for record n (1-based line n of audit.jsonl):
//   not canonical / malformed  -> a modified byte (any change to a line's bytes)
//   seq != n                   -> a deleted, inserted or reordered record
//   prev != SHA-256(line n-1)  -> a modified previous line, or a forged link
//   mac wrong (MAC key only)   -> a modified or forged record, even at the unsigned tail
//   SHA-256(line n) != head of the checkpoint for n -> a rewritten, re-chained prefix (offline)
//   fewer records than the latest checkpoint, or a torn last line -> truncation
//   a log starting after record 1 where no signed prune mark starts it -> a prefix cut (AuditPrune)
//
// The local checkpoints.jsonl lives next to the log, so whoever can rewrite the directory can also cut
// both back consistently: remove the tail of the log with the checkpoints that covered it, or put back
// an older copy of the whole directory. Neither shows without an outside copy of the checkpoints (the
// serve configuration's `audit.checkpoint_command` feeds each one to, e.g., `tee -a` on another volume).
// Given that copy, every checkpoint in it must also be in checkpoints.jsonl (a removed checkpoint or a
// rolled-back directory), and the log is checked against both (truncation below the newest outside
// checkpoint, or a rolled-back log that has grown again past it). What no copy can show: records
// appended after the newest checkpoint that reached the copy (at most one checkpoint interval).
import Foundation

/// The first problem found, naming the file and the 1-based line (for the log, the record's expected seq): a
/// report's finding, and what `AuditError.broken` carries when a signed file does not verify.
public struct AuditVerificationFailure: Sendable, Equatable, CustomStringConvertible {
    public enum File: String, Sendable {
        case log = "audit.jsonl"
        case checkpoints = "checkpoints.jsonl"
        case prunes = "prunes.jsonl"
        /// The outside copy of the checkpoints (`verify --checkpoints`).
        case outsideCheckpoints = "outside checkpoint copy"
    }
    public var file: File
    public var line: UInt64
    public var reason: String

    public var description: String { "\(file.rawValue) line \(line): \(reason)" }
}

/// The outcome of a verification.
public struct AuditVerificationReport: Sendable, Equatable {
    /// Records that passed every check before the first failure (all of them when `failure` is nil).
    public var recordsVerified: UInt64
    /// Signed checkpoints read and verified.
    public var checkpoints: Int
    /// The record count of the latest checkpoint (0 when there is none).
    public var latestCheckpoint: UInt64
    /// Whether record MACs were checked (a MAC key was given).
    public var macChecked: Bool
    /// The last record removed by a signed prune (the log starts after it), or 0 when none was.
    public var prunedThrough: UInt64 = 0
    /// The first problem, or nil when the log verifies.
    public var failure: AuditVerificationFailure?

    public var isValid: Bool { failure == nil }

    /// The report as fields for `= ` lines (`/audit verify` over the protocol).
    public var rows: [[String]] {
        [
            ["records", String(recordsVerified)],
            ["checkpoints", String(checkpoints), "latest=\(latestCheckpoint)"],
            ["check", macChecked ? "full" : "offline"],
        ] + (prunedThrough > 0 ? [["pruned", "through=\(prunedThrough)"]] : [])
            + [
                failure.map { ["result", "fail", $0.file.rawValue, "line=\($0.line)", $0.reason] } ?? ["result", "ok"]
            ].map { $0.map(AuditReader.sanitizedField) }
    }
}

/// Streaming verification of `audit.jsonl` against already verified checkpoints.
public struct AuditChainVerifier: Sendable {
    private let macKey: SymmetricKey?
    private let checkpointHeads: [UInt64: String]
    private let checkpointCount: Int
    private let latestCheckpoint: UInt64
    /// Signed starting points after a prune: the first record kept → the hash of the one before it.
    private let pruneStarts: [UInt64: String]
    private var started = false
    private var prunedThrough: UInt64 = 0
    private var splitter = LineSplitter()
    private var verified: UInt64 = 0
    private var head = AuditRecord.genesisHash
    private var failure: AuditVerificationFailure?

    /// - Parameters:
    ///   - macKey: the record MAC key, or nil for an offline (public-key only) check.
    ///   - checkpoints: checkpoints whose signatures were verified (`AuditVerifier.checkpoints`).
    ///   - marks: prune marks whose signatures were verified (`AuditPruneMark.marks`); the log may start at
    ///     record 1 or at any mark's first record, and passes through every mark's link.
    public init(macKey: SymmetricKey?, checkpoints: [AuditCheckpoint], marks: [AuditPruneMark] = []) {
        self.macKey = macKey
        pruneStarts = Dictionary(marks.map { ($0.first, $0.prev) }, uniquingKeysWith: { a, _ in a })
        var heads: [UInt64: String] = [:]
        for checkpoint in checkpoints { heads[checkpoint.count] = checkpoint.head }
        checkpointHeads = heads
        checkpointCount = checkpoints.count
        latestCheckpoint = checkpoints.map(\.count).max() ?? 0
    }

    /// Records verified so far.
    public var recordsVerified: UInt64 { verified }

    /// Feeds the next bytes of the log; returns false once a failure has been found (stop feeding).
    public mutating func feed(_ chunk: ArraySlice<UInt8>) -> Bool {
        guard failure == nil else { return false }
        var local = splitter
        let result = local.feed(chunk) { line in consume(line) }
        splitter = local
        return result
    }

    /// Ends the input and reports; checks for a torn last line and truncation against the latest checkpoint.
    public mutating func finish() -> AuditVerificationReport {
        if failure == nil, let tail = splitter.finish() {
            fail("incomplete last line (\(tail.count) bytes without LF): torn write or truncation")
        }
        if failure == nil, verified < latestCheckpoint {
            fail(
                "missing: the log ends after record \(verified) but a signed checkpoint covers \(latestCheckpoint)"
                    + " (truncated)")
        }
        return AuditVerificationReport(
            recordsVerified: verified, checkpoints: checkpointCount, latestCheckpoint: latestCheckpoint,
            macChecked: macKey != nil, prunedThrough: prunedThrough, failure: failure)
    }

    private mutating func fail(_ reason: String) {
        failure = AuditVerificationFailure(file: .log, line: verified + 1, reason: reason)
    }

    private mutating func consume(_ line: ArraySlice<UInt8>) -> Bool {
        let record: AuditRecord
        do { record = try AuditRecord(line: line) } catch {
            fail("malformed or not canonical (\(error))")
            return false
        }
        if !started {
            started = true
            // A pruned log starts at a signed mark, whose link stands in for the genesis hash.
            if record.seq > 1, let link = pruneStarts[record.seq] {
                verified = record.seq - 1
                prunedThrough = verified
                head = link
            } else if record.seq > 1 {
                fail(
                    "the log starts at record \(record.seq) and no signed prune mark starts there:"
                        + " records 1-\(record.seq - 1) were removed")
                return false
            }
        }
        let expected = verified + 1
        if let link = pruneStarts[expected], link != head {
            fail("does not match the signed prune mark for record \(expected)")
            return false
        }
        guard record.seq == expected else {
            fail(
                "sequence number \(record.seq) where \(expected) was expected: a record was deleted, inserted or"
                    + " reordered")
            return false
        }
        guard record.prev == head else {
            fail("prev does not match the hash of record \(expected - 1): this link or the record before was altered")
            return false
        }
        if let macKey {
            guard let mac = decodeHex(record.mac, count: 32),
                let computed = try? HMACSHA256.authenticate(Array(line.prefix(line.count - 74)), key: macKey),
                constantTimeEquals(mac, computed)
            else {
                fail("MAC does not verify: the record was modified or forged")
                return false
            }
        }
        guard let hash = try? SHA256.hash(Array(line)).hexString else {
            fail("cannot hash the record")
            return false
        }
        if let signed = checkpointHeads[expected], signed != hash {
            fail("does not match the signed checkpoint for record \(expected)")
            return false
        }
        head = hash
        verified = expected
        return true
    }
}

/// Verification entry points over files.
public enum AuditVerifier {
    /// Verifies `<directory>/audit.jsonl` against `<directory>/checkpoints.jsonl` and, when given,
    /// `checkpointsPath`: an outside copy (e.g. what the checkpoint command appended on another volume),
    /// each of whose checkpoints must also be in the local file.
    /// - Parameters:
    ///   - macKey: the record MAC key for the full check, or nil for the offline check.
    ///   - publicKey: the checkpoint signing key's public half (`enclave audit pubkey`).
    public static func verify(
        directory: String, macKey: SymmetricKey?, publicKey: Ed25519PublicKey,
        checkpointsPath: String? = nil
    ) throws -> AuditVerificationReport {
        let failed = { (failure: AuditVerificationFailure) in
            AuditVerificationReport(
                recordsVerified: 0, checkpoints: 0, latestCheckpoint: 0, macChecked: macKey != nil, failure: failure)
        }
        var checkpoints: [AuditCheckpoint]
        do {
            checkpoints = try readCheckpoints(directory + "/" + AuditLog.checkpointFileName, publicKey: publicKey)
        } catch {
            guard case .broken(let failure) = error else { throw error }
            return failed(failure)
        }
        if let checkpointsPath {
            guard FileManager.default.fileExists(atPath: checkpointsPath) else {
                throw AuditError.io(operation: "open", path: checkpointsPath, reason: "no such file")
            }
            do {
                let outside = try readCheckpoints(checkpointsPath, publicKey: publicKey)
                let localFile = FileManager.default.fileExists(atPath: directory + "/" + AuditLog.checkpointFileName)
                // With no local file at all (an auditor's copy of the log alone) the outside copy stands in.
                if !localFile { checkpoints = outside }
                let local = Dictionary(checkpoints.map { ($0.count, $0.head) }, uniquingKeysWith: { a, _ in a })
                for (index, checkpoint) in outside.enumerated() where local[checkpoint.count] != checkpoint.head {
                    return failed(
                        AuditVerificationFailure(
                            file: .outsideCheckpoints, line: UInt64(index + 1),
                            reason: "the checkpoint for record \(checkpoint.count) is "
                                + (local[checkpoint.count] == nil ? "missing from" : "different in")
                                + " \(AuditLog.checkpointFileName)"
                                + ": checkpoints were removed or the audit directory was rolled back"))
                }
            } catch {
                guard case .broken(var failure) = error else { throw error }
                failure.file = .outsideCheckpoints
                return failed(failure)
            }
        }
        let marks: [AuditPruneMark]
        do {
            marks = try AuditPruneMark.read(directory: directory, publicKey: publicKey)
        } catch {
            guard case .broken(let failure) = error else { throw error }
            return failed(failure)
        }
        var verifier = AuditChainVerifier(macKey: macKey, checkpoints: checkpoints, marks: marks)
        let logPath = directory + "/" + AuditLog.logFileName
        if FileManager.default.fileExists(atPath: logPath) {
            try readChunks(of: logPath) { verifier.feed($0) }
        }
        return verifier.finish()
    }

    /// The verified checkpoints of the file at `path` (none when it does not exist).
    static func readCheckpoints(_ path: String, publicKey: Ed25519PublicKey) throws(AuditError) -> [AuditCheckpoint] {
        try checkpoints(from: readSignedFile(path), publicKey: publicKey)
    }

    /// The bytes of a signed file (checkpoints, prune marks), or none when it does not exist.
    static func readSignedFile(_ path: String) throws(AuditError) -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        do {
            return try readWholeFile(path)
        } catch let error as AuditError {
            throw error
        } catch {
            throw .io(operation: "read", path: path, reason: "\(error)")
        }
    }

    /// Parses and verifies a checkpoint file: canonical lines, valid signatures, counts strictly increasing.
    public static func checkpoints(from bytes: [UInt8], publicKey: Ed25519PublicKey) throws(AuditError)
        -> [AuditCheckpoint]
    {
        try signedLines(
            bytes, file: .checkpoints, kind: "checkpoint", parse: AuditCheckpoint.init(line:),
            isValid: { $0.isValid(publicKey: publicKey) },
            outOfOrder: { last, next in
                next.count <= last.count || next.time < last.time
                    ? "out of order: count \(next.count) after \(last.count)" : nil
            })
    }

    /// Parses a file of signed lines (checkpoints, prune marks): each canonical, validly signed, and in
    /// order after the one before (`outOfOrder` names the problem, or returns nil).
    static func signedLines<Line>(
        _ bytes: [UInt8], file: AuditVerificationFailure.File, kind: String,
        parse: (ArraySlice<UInt8>) -> Line?, isValid: (Line) -> Bool, outOfOrder: (Line, Line) -> String?
    ) throws(AuditError) -> [Line] {
        var result: [Line] = []
        var splitter = LineSplitter()
        var failure: AuditVerificationFailure?
        func fail(_ reason: String) {
            failure = AuditVerificationFailure(file: file, line: UInt64(result.count + 1), reason: reason)
        }
        _ = splitter.feed(bytes[...]) { text in
            guard let line = parse(text) else {
                fail("not a \(kind) line")
                return false
            }
            guard isValid(line) else {
                fail("signature does not verify under this public key")
                return false
            }
            if let last = result.last, let problem = outOfOrder(last, line) {
                fail(problem)
                return false
            }
            result.append(line)
            return true
        }
        if failure == nil, splitter.finish() != nil { fail("incomplete last line") }
        if let failure { throw .broken(failure) }
        return result
    }
}
