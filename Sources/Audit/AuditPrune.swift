// The audit log's own retention: records older than the retention period are removed from the front of
// `audit.jsonl`, and a signed prune mark (AuditPruneMark) becomes the chain's new starting point, so the
// shorter log still verifies and a prefix cut by anyone without the signing key still does not.
//
// How a prune runs, while writers (the server, operator commands) keep appending:
//   1. Scan from the front, verifying every record's MAC and link, up to the first record written at or
//      after the cut-off; a prefix that does not verify is never pruned (it is evidence). The last record
//      is always kept, so the chain has an end to continue from.
//   2. Without the lock, copy everything after the cut into `audit.jsonl.prune`.
//   3. Under the writers' lock: copy what was appended meanwhile, fsync, append the signed mark to
//      `prunes.jsonl` (fsynced), rename the copy over `audit.jsonl`, fsync the directory. Writers holding
//      the old file notice after taking the lock and follow the mark to the new file (CurrentLogFile).
// A crash between the mark and the rename leaves a longer log that passes through the mark's link,
// which verifies; the next prune finishes the job. Checkpoints are kept: they hold no event content.
public import EnclaveCrypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a prune removed, or for a dry run would remove.
public struct AuditPruneResult: Sendable, Equatable {
    /// The log's first record before the prune.
    public var firstBefore: UInt64
    /// The last record removed (or to be removed); `firstBefore - 1` when nothing is old enough.
    public var through: UInt64
    /// The signed mark written (nil for a dry run or when nothing was removed).
    public var mark: AuditPruneMark?

    /// How many records were (or would be) removed.
    public var removed: UInt64 { through + 1 - firstBefore }

    /// The audit record of this prune (counts and sequence numbers only).
    public func event(actor: String, role: String, before cutoff: UTCMillis) -> AuditEvent {
        AuditEvent(
            actor: actor, role: role, action: AuditAction.auditPrune, subject: "audit.jsonl", outcome: "ok",
            detail: "first=\(firstBefore) through=\(through) removed=\(removed) before=\(cutoff.text)")
    }
}

/// The prune operation (see the top of this file); `AuditLog.pruneExpired` runs it for the server.
public enum AuditPrune {
    /// Removes the records written before `cutoff` from the front of the log in `directory` (never the last
    /// record, never beyond record `limit` when given) and signs the new start; returns what it removed.
    /// - Throws: `AuditError.corrupt` when the part to remove does not verify (nothing is removed), `.io`
    ///   for file errors, `.unavailable` when another prune replaced the log meanwhile.
    public static func prune(
        directory: String, before cutoff: UTCMillis, limit: UInt64? = nil, macKey: SymmetricKey,
        signer: Ed25519PrivateKey, dryRun: Bool = false
    ) throws -> AuditPruneResult {
        let logPath = directory + "/" + AuditLog.logFileName
        let source = open(logPath, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw AuditError.io(operation: "open", path: logPath, reason: errnoText()) }
        defer { close(source) }
        let marks = try verifiedMarks(directory: directory, publicKey: signer.publicKey)
        let cut = try scanForCut(
            source: source, path: logPath, directory: directory, before: cutoff, limit: limit, marks: marks,
            macKey: macKey, publicKey: signer.publicKey)
        guard cut.through >= cut.firstBefore, !dryRun else {
            return AuditPruneResult(firstBefore: cut.firstBefore, through: cut.through, mark: nil)
        }
        let copyPath = logPath + ".prune"
        let copy = open(copyPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard copy >= 0 else { throw AuditError.io(operation: "create", path: copyPath, reason: errnoText()) }
        var renamed = false
        defer {
            close(copy)
            if !renamed { unlink(copyPath) }
        }
        var copied = try copyRange(from: source, offset: cut.offset, to: copy, path: copyPath)
        let lockFile = try AppendOnlyFile(path: logPath, create: false)
        try lockFile.lock()
        defer { lockFile.unlock() }
        var sourceInfo = stat()
        guard fstat(source, &sourceInfo) == 0 else {
            throw AuditError.io(operation: "fstat", path: logPath, reason: errnoText())
        }
        let locked = try lockFile.status()
        guard locked.st_ino == sourceInfo.st_ino, locked.st_dev == sourceInfo.st_dev else {
            throw AuditError.unavailable("\(logPath) was replaced while pruning (another prune ran); try again")
        }
        copied += try copyRange(from: source, offset: cut.offset + copied, to: copy, path: copyPath)
        guard fsync(copy) == 0 else { throw AuditError.io(operation: "fsync", path: copyPath, reason: errnoText()) }
        let first = cut.through + 1
        var mark = marks.last
        if mark?.first != first {
            // A crash after the mark and before the rename leaves the mark in place: it is not written twice.
            let made = try AuditPruneMark.make(first: first, prev: cut.head, before: cutoff, signer: signer)
            let marksPath = directory + "/" + AuditPruneMark.fileName
            let created = !FileManager.default.fileExists(atPath: marksPath)
            try AppendOnlyFile(path: marksPath).append(made.line + [0x0A], sync: true)
            if created { try syncDirectory(directory) }
            mark = made
        }
        guard rename(copyPath, logPath) == 0 else {
            throw AuditError.io(operation: "rename", path: copyPath, reason: errnoText())
        }
        renamed = true
        try syncDirectory(directory)
        return AuditPruneResult(firstBefore: cut.firstBefore, through: cut.through, mark: mark)
    }

    /// The verified marks of the directory; a damaged prune file stops the prune.
    private static func verifiedMarks(directory: String, publicKey: Ed25519PublicKey) throws -> [AuditPruneMark] {
        try refusingToPrune { () throws(AuditError) in
            try AuditPruneMark.read(directory: directory, publicKey: publicKey)
        }
    }

    /// Reads a signed file; one that does not verify stops the prune.
    private static func refusingToPrune<T>(_ read: () throws(AuditError) -> T) throws(AuditError) -> T {
        do {
            return try read()
        } catch {
            guard case .broken(let failure) = error else { throw error }
            throw .corrupt("refusing to prune: \(failure); run `enclave audit verify`")
        }
    }

    /// Where a prune cuts: the last record to remove, its line's hash and the byte offset after it.
    private struct Cut {
        var firstBefore: UInt64 = 0
        var through: UInt64 = 0
        var head = AuditRecord.genesisHash
        var offset: Int64 = 0
    }

    /// Scans from the front, verifying as it goes, for the last record that may be removed: written before
    /// `cutoff`, not after `limit`, and followed by at least one record.
    private static func scanForCut(
        source: Int32, path: String, directory: String, before cutoff: UTCMillis, limit: UInt64?,
        marks: [AuditPruneMark], macKey: SymmetricKey, publicKey: Ed25519PublicKey
    ) throws -> Cut {
        let checkpoints = try refusingToPrune { () throws(AuditError) in
            try AuditVerifier.readCheckpoints(directory + "/" + AuditLog.checkpointFileName, publicKey: publicKey)
        }
        var verifier = AuditChainVerifier(macKey: macKey, checkpoints: checkpoints, marks: marks)
        var splitter = LineSplitter()
        var cut = Cut()
        var candidate: Cut?
        var offset: Int64 = 0
        var lineEnd: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var failure: AuditError?
        scan: while true {
            let count = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress, $0.count, off_t(offset)) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw AuditError.io(operation: "read", path: path, reason: errnoText()) }
            if count == 0 { break }
            let more = splitter.feed(buffer[0..<count]) { line in
                lineEnd += Int64(line.count) + 1
                guard let record = try? AuditRecord(line: line) else {
                    failure = AuditError.corrupt("refusing to prune: a malformed record; run `enclave audit verify`")
                    return false
                }
                if cut.firstBefore == 0 { cut.firstBefore = record.seq }
                // A record follows the candidate, so the candidate is not the last one: it may go.
                if let confirmed = candidate {
                    (cut.through, cut.head, cut.offset) = (confirmed.through, confirmed.head, confirmed.offset)
                }
                candidate = nil
                if record.event.time >= cutoff || (limit.map { record.seq > $0 } ?? false) { return false }
                guard verifier.feed(line + [0x0A]) else {
                    let reason = verifier.finish().failure.map { "\($0)" } ?? "unverifiable"
                    failure = AuditError.corrupt("refusing to prune: \(reason); run `enclave audit verify`")
                    return false
                }
                let hash = (try? SHA256.hash(Array(line)).hexString) ?? ""
                candidate = Cut(through: record.seq, head: hash, offset: lineEnd)
                return true
            }
            if let failure { throw failure }
            if !more { break scan }
            offset += Int64(count)
        }
        cut.firstBefore = max(cut.firstBefore, 1)
        if cut.through < cut.firstBefore { cut.through = cut.firstBefore - 1 }
        return cut
    }

    /// Appends the bytes of `source` from `offset` to its current end to `destination`; returns their count.
    private static func copyRange(from source: Int32, offset: Int64, to destination: Int32, path: String) throws
        -> Int64
    {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var position = offset
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress, $0.count, off_t(position)) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw AuditError.io(operation: "read", path: path, reason: errnoText()) }
            if count == 0 { return position - offset }
            var written = 0
            while written < count {
                let step = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + written, count - written) }
                if step < 0 && errno == EINTR { continue }
                guard step > 0 else { throw AuditError.io(operation: "write", path: path, reason: errnoText()) }
                written += step
            }
            position += Int64(count)
        }
    }
}

extension AuditPrune {
    /// The cut-off of a retention of `days` days as of `now`: records written before it are due.
    public static func cutoff(retentionDays days: Int, now: UTCMillis = .now) -> UTCMillis {
        UTCMillis(now.value - Int64(days) * 86_400_000)
    }

    /// Prunes the records written before `cutoff`, having recorded the prune first through `record` (the
    /// server's log, or an operator command's one-off append): the plan is found by a dry run, recorded,
    /// then carried out no further than planned. Returns nil when no record is old enough. The scans and
    /// copies run on a utility queue, off the cooperative pool.
    public static func pruneRecorded(
        directory: String, before cutoff: UTCMillis, macKey: SymmetricKey, signer: Ed25519PrivateKey,
        actor: String, role: String, record: (AuditEvent) async throws -> Void
    ) async throws -> AuditPruneResult? {
        let run = { @Sendable (limit: UInt64?, dryRun: Bool) async throws -> AuditPruneResult in
            try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global(qos: .utility).async {
                    continuation.resume(
                        with: Result {
                            try prune(
                                directory: directory, before: cutoff, limit: limit, macKey: macKey, signer: signer,
                                dryRun: dryRun)
                        })
                }
            }
        }
        let plan = try await run(nil, true)
        guard plan.removed > 0 else { return nil }
        try await record(plan.event(actor: actor, role: role, before: cutoff))
        return try await run(plan.through, false)
    }
}

extension AuditLog {
    /// Applies the log's own retention (`Configuration.retentionDays`) as of `now`, recording the prune in
    /// this log before making it; nil when no record is old enough.
    public func pruneExpired(now: UTCMillis = .now, actor: String, role: String) async throws -> AuditPruneResult? {
        try await AuditPrune.pruneRecorded(
            directory: directory, before: AuditPrune.cutoff(retentionDays: configuration.retentionDays, now: now),
            macKey: macKey, signer: signer, actor: actor,
            role: role
        ) { event in _ = try await self.append(event) }
    }
}
