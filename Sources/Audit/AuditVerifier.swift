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
import Foundation
public import EnclaveCrypto

/// The first problem found, naming the file and the 1-based line (for the log, the record's expected seq).
public struct AuditVerificationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum File: String, Sendable {
        case log = "audit.jsonl"
        case checkpoints = "checkpoints.jsonl"
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
    /// The first problem, or nil when the log verifies.
    public var failure: AuditVerificationFailure?

    public var isValid: Bool { failure == nil }
}

/// Streaming verification of `audit.jsonl` against already verified checkpoints.
public struct AuditChainVerifier: Sendable {
    private let macKey: SymmetricKey?
    private let checkpointHeads: [UInt64: String]
    private let checkpointCount: Int
    private let latestCheckpoint: UInt64
    private var splitter = LineSplitter()
    private var verified: UInt64 = 0
    private var head = AuditRecord.genesisHash
    private var failure: AuditVerificationFailure?

    /// - Parameters:
    ///   - macKey: the record MAC key, or nil for an offline (public-key only) check.
    ///   - checkpoints: checkpoints whose signatures were verified (`AuditVerifier.checkpoints`).
    public init(macKey: SymmetricKey?, checkpoints: [AuditCheckpoint]) {
        self.macKey = macKey
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
            fail("missing: the log ends after record \(verified) but a signed checkpoint covers \(latestCheckpoint)"
                + " (truncated)")
        }
        return AuditVerificationReport(
            recordsVerified: verified, checkpoints: checkpointCount, latestCheckpoint: latestCheckpoint,
            macChecked: macKey != nil, failure: failure)
    }

    private mutating func fail(_ reason: String) {
        failure = AuditVerificationFailure(file: .log, line: verified + 1, reason: reason)
    }

    private mutating func consume(_ line: ArraySlice<UInt8>) -> Bool {
        let expected = verified + 1
        let record: AuditRecord
        do { record = try AuditRecord(line: line) } catch {
            fail("malformed or not canonical (\(error))")
            return false
        }
        guard record.seq == expected else {
            fail("sequence number \(record.seq) where \(expected) was expected: a record was deleted, inserted or"
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
    /// Verifies `<directory>/audit.jsonl` against `<directory>/checkpoints.jsonl` (or `checkpointsPath`,
    /// e.g. the copy a syslog forwarder kept).
    /// - Parameters:
    ///   - macKey: the record MAC key for the full check, or nil for the offline check.
    ///   - publicKey: the checkpoint signing key's public half (`enclave audit pubkey`).
    public static func verify(directory: String, macKey: SymmetricKey?, publicKey: Ed25519PublicKey,
                              checkpointsPath: String? = nil) throws -> AuditVerificationReport {
        let checkpointFile = checkpointsPath ?? directory + "/" + AuditLog.checkpointFileName
        let checkpointBytes = FileManager.default.fileExists(atPath: checkpointFile)
            ? try readWholeFile(checkpointFile) : []
        let checkpoints: [AuditCheckpoint]
        switch self.checkpoints(from: checkpointBytes, publicKey: publicKey) {
        case .success(let verified): checkpoints = verified
        case .failure(let failure):
            return AuditVerificationReport(recordsVerified: 0, checkpoints: 0, latestCheckpoint: 0,
                                           macChecked: macKey != nil, failure: failure)
        }
        var verifier = AuditChainVerifier(macKey: macKey, checkpoints: checkpoints)
        let logPath = directory + "/" + AuditLog.logFileName
        if FileManager.default.fileExists(atPath: logPath) {
            try readChunks(of: logPath) { verifier.feed($0) }
        }
        return verifier.finish()
    }

    /// Parses and verifies a checkpoint file: canonical lines, valid signatures, counts strictly increasing.
    public static func checkpoints(from bytes: [UInt8], publicKey: Ed25519PublicKey)
        -> Result<[AuditCheckpoint], AuditVerificationFailure>
    {
        var result: [AuditCheckpoint] = []
        var splitter = LineSplitter()
        var failure: AuditVerificationFailure?
        func fail(_ reason: String) {
            failure = AuditVerificationFailure(file: .checkpoints, line: UInt64(result.count + 1), reason: reason)
        }
        _ = splitter.feed(bytes[...]) { line in
            guard let checkpoint = AuditCheckpoint(line: line) else {
                fail("not a checkpoint line")
                return false
            }
            guard checkpoint.isValid(publicKey: publicKey) else {
                fail("signature does not verify under this public key")
                return false
            }
            if let last = result.last, checkpoint.count <= last.count || checkpoint.time < last.time {
                fail("out of order: count \(checkpoint.count) after \(last.count)")
                return false
            }
            result.append(checkpoint)
            return true
        }
        if failure == nil, splitter.finish() != nil { fail("incomplete last line") }
        if let failure { return .failure(failure) }
        return .success(result)
    }
}
