public import EnclaveCrypto
// The file side of `AuditLog`: one locked step that appends a batch of events to `audit.jsonl` and, when
// due, a signed checkpoint to `checkpoints.jsonl`. Several processes may write one log (the server, and
// operator commands such as `enclave users add` while it runs), so each step holds an exclusive `flock`
// on the log file; if the file grew since this process last looked, another writer appended, and the
// step first reads the last record (its MAC must verify), continues the chain after it, and only then
// writes. Runs on the log's I/O queue (blocking calls), never on the cooperative pool.
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the chain ends, as this process last saw the file.
struct ChainState: Sendable, Equatable {
    /// The sequence number of the last record (0 for an empty log).
    var lastSeq: UInt64
    /// The SHA-256 (hex) of the last record's line, or the genesis hash.
    var head: String
    /// The log file's size after that record.
    var size: Int64
}

/// When a step should add a checkpoint.
struct CheckpointRule: Sendable {
    var lastCount: UInt64
    var lastTime: UTCMillis
    var every: Int
    var interval: Duration
    var force: Bool

    func isDue(_ state: ChainState, now: UTCMillis) -> Bool {
        guard state.lastSeq > lastCount else { return false }
        return force || state.lastSeq - lastCount >= UInt64(every)
            || Duration.milliseconds(now.value - lastTime.value) >= interval
    }
}

/// What one step did.
struct WriteOutcome: Sendable {
    var state: ChainState
    /// The sequence numbers given to the step's events, in order.
    var seqs: [UInt64]
    /// The checkpoint written, if one was due.
    var checkpoint: AuditCheckpoint?
}

/// The log's files and keys, immutable and so safe to hand to the I/O queue.
struct AuditLogWriter: Sendable {
    let log: CurrentLogFile
    let checkpointFile: AppendOnlyFile
    let macKey: SymmetricKey
    let signer: Ed25519PrivateKey

    /// Under the lock: catches up with other writers, appends `events` (origins already pseudonymised),
    /// fsyncs, and writes a checkpoint if `rule` says one is due.
    func write(_ events: [AuditEvent], after known: ChainState, rule: CheckpointRule) throws -> WriteOutcome {
        // The lock is taken before the file's identity is checked: a prune replaces the file under this
        // lock, and a writer that checked first could append to the unlinked old file after it.
        let (logFile, replaced) = try log.lock()
        defer { logFile.unlock() }
        var state = known
        var events = events
        var repaired = false
        if try replaced || logFile.size() != known.size {
            let caught = try catchUp()
            // A pruned copy holds the same chain: never fewer records than this writer already saw.
            if replaced && known.size >= 0
                && (caught.state.lastSeq < known.lastSeq
                    || (caught.state.lastSeq == known.lastSeq && caught.state.head != known.head))
            {
                throw FileIdentity.replaced(log.path)
            }
            state = caught.state
            if caught.tornBytes > 0 {
                // A writer died mid-write (it held the lock, so it was not still writing): say so in the log.
                events.insert(Self.recoverEvent(tornBytes: caught.tornBytes), at: 0)
                repaired = true
            }
        }
        var seqs: [UInt64] = []
        if !events.isEmpty {
            var bytes: [UInt8] = []
            for event in events {
                var record = AuditRecord(seq: state.lastSeq + 1, event: event, prev: state.head, mac: "")
                let authenticated = record.authenticatedBytes
                record.mac = try HMACSHA256.authenticate(authenticated, key: macKey).hexString
                let line = AuditRecord.line(authenticated: authenticated, mac: record.mac)
                state.head = try SHA256.hash(line).hexString
                state.lastSeq = record.seq
                seqs.append(record.seq)
                bytes += line
                bytes.append(0x0A)
            }
            try logFile.append(bytes, sync: true)
            state.size = try logFile.size()
            if repaired { seqs.removeFirst() }
        }
        var rule = rule
        let now = UTCMillis.now
        guard rule.isDue(state, now: now) else { return WriteOutcome(state: state, seqs: seqs, checkpoint: nil) }
        // Another writer may have checkpointed since: counts must strictly increase.
        if let latest = try Self.lastCheckpoint(checkpointFile.path) {
            rule.lastCount = max(rule.lastCount, latest.count)
            guard state.lastSeq > rule.lastCount else { return WriteOutcome(state: state, seqs: seqs, checkpoint: nil) }
        }
        let checkpoint = try AuditCheckpoint.make(count: state.lastSeq, head: state.head, time: now, signer: signer)
        try checkpointFile.append(checkpoint.line + [0x0A], sync: true)
        return WriteOutcome(state: state, seqs: seqs, checkpoint: checkpoint)
    }

    /// The record that says a torn last line was cut off.
    static func recoverEvent(tornBytes: Int) -> AuditEvent {
        AuditEvent(
            actor: "-", role: "-", action: AuditAction.auditRecover, subject: "torn-tail", outcome: "repaired",
            detail: "bytes=\(tornBytes)")
    }

    /// The chain's end as the file now holds it (another writer appended). Its last record must verify
    /// under this log's MAC key; a torn last line is cut off (the writer that tore it never returned),
    /// and its length returned so the caller can record the repair.
    func catchUp() throws -> (state: ChainState, tornBytes: Int) {
        let logFile = log.file
        let tail = try LogTail.read(path: logFile.path)
        guard let last = tail.lastLine else {
            let empty = ChainState(lastSeq: 0, head: AuditRecord.genesisHash, size: try logFile.size())
            return (empty, tail.tornBytes)
        }
        let record: AuditRecord
        do { record = try AuditRecord(line: last[...]) } catch {
            throw AuditError.corrupt("the last record of \(logFile.path) is malformed; run `enclave audit verify`")
        }
        let expected = try HMACSHA256.authenticate(record.authenticatedBytes, key: macKey).hexString
        guard constantTimeEquals(Array(expected.utf8), Array(record.mac.utf8)) else {
            throw AuditError.key("the last audit record's MAC does not verify: wrong master key, or tampering")
        }
        let state = ChainState(lastSeq: record.seq, head: try SHA256.hash(last).hexString, size: try logFile.size())
        return (state, tail.tornBytes)
    }

    /// The last checkpoint in `path`, read from the file's last 4 KiB (a checkpoint line is ~300 bytes).
    static func lastCheckpoint(_ path: String) throws -> AuditCheckpoint? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AuditError.io(operation: "open", path: path, reason: errnoText()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw AuditError.io(operation: "fstat", path: path, reason: errnoText()) }
        let size = Int(info.st_size)
        let window = min(size, 4096)
        guard window > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: window)
        let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, window, off_t(size - window)) }
        guard count == window else { throw AuditError.io(operation: "pread", path: path, reason: errnoText()) }
        guard let end = bytes.lastIndex(of: 0x0A) else { return nil }
        let start = bytes[..<end].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        return AuditCheckpoint(line: bytes[start..<end])
    }
}

extension AuditLog {
    /// Appends `events` from a short-lived process, such as an operator command run beside the server,
    /// without a log actor: under the writers' shared lock, chained after whatever the log holds,
    /// durably, followed by a signed checkpoint covering them. Returns their sequence numbers. If this
    /// throws, the caller must not perform the action the events cover.
    public static func appendOnce(
        _ events: [AuditEvent], directory: String, macKey: SymmetricKey, signer: Ed25519PrivateKey
    ) throws -> [UInt64] {
        try makeDirectory(directory)
        let logPath = directory + "/" + logFileName
        let created = !FileManager.default.fileExists(atPath: logPath)
        let writer = AuditLogWriter(
            log: try CurrentLogFile(path: logPath, publicKey: signer.publicKey),
            checkpointFile: try AppendOnlyFile(path: directory + "/" + checkpointFileName), macKey: macKey,
            signer: signer)
        if created { try syncDirectory(directory) }
        let key = try pseudonymKey(macKey: macKey)
        let stored = try events.map { event in
            var event = event
            event.origin = try pseudonym(event.origin, key: key)
            return event
        }
        // A size that never matches makes the step read the chain's end under the lock.
        let unknown = ChainState(lastSeq: 0, head: AuditRecord.genesisHash, size: -1)
        let rule = CheckpointRule(lastCount: 0, lastTime: .now, every: 1, interval: .zero, force: true)
        return try writer.write(stored, after: unknown, rule: rule).seqs
    }
}
