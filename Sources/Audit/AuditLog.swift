// The writer of `<dir>/audit.jsonl`: one actor owns the chain head and the files. `append` returns only
// after the record is on disk (write + fsync); callers that append concurrently share one fsync (group
// commit: while one flush runs on the I/O queue, later records gather and go out in the next). If a
// write fails the log is poisoned: that append and every later one throw, so the action they cover
// never happens (fail closed). Every `checkpointEvery` records or `checkpointInterval` (checked on
// append and by `run()`), a signed checkpoint goes to `checkpoints.jsonl` and to an optional command.
import Foundation
public import EnclaveCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The append-only, hash-chained, MAC'd audit log of one directory.
public actor AuditLog {
    /// Tuning for checkpoints; see `AuditLog.init`.
    public struct Configuration: Sendable {
        /// A checkpoint after this many records since the last one.
        public var checkpointEvery: Int
        /// A checkpoint once this much time has passed since the last one (if records were added).
        public var checkpointInterval: Duration
        /// An optional command (argv) that receives each checkpoint line on standard input, e.g. `logger -t enclave`.
        public var checkpointCommand: [String]?

        public init(checkpointEvery: Int = 1000, checkpointInterval: Duration = .seconds(300),
                    checkpointCommand: [String]? = nil) {
            self.checkpointEvery = checkpointEvery
            self.checkpointInterval = checkpointInterval
            self.checkpointCommand = checkpointCommand
        }
    }

    public static let logFileName = "audit.jsonl"
    public static let checkpointFileName = "checkpoints.jsonl"

    public nonisolated let directory: String
    private let macKey: SymmetricKey
    private let pseudonymKey: SymmetricKey
    private let signer: Ed25519PrivateKey
    private let configuration: Configuration
    private let logFile: AppendOnlyFile
    private let checkpointFile: AppendOnlyFile
    private let logIdentity: FileIdentity
    private let ioQueue = DispatchQueue(label: "enclave.audit.io")

    private var nextSeq: UInt64
    private var head: String
    private var pending: [UInt8] = []
    private var durableSeq: UInt64
    private var durableHead: String
    private var lastCheckpointCount: UInt64
    private var lastCheckpointTime: UTCMillis
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var failure: AuditError?
    /// How many times the checkpoint command failed (the local checkpoint file was still written).
    public private(set) var checkpointCommandFailures = 0

    /// Opens (or creates) the log in `directory`.
    ///
    /// An existing log is continued from its last record, whose MAC must verify under `macKey` and
    /// whose latest checkpoint must verify under `signer`'s public key (so a wrong master key is refused
    /// at start-up), and a log shorter than its latest checkpoint is refused (truncated: run `audit
    /// verify`). A torn last line (a crash during a write whose `append` never returned) is cut off
    /// and the repair is itself recorded.
    /// - Parameters:
    ///   - directory: where `audit.jsonl` and `checkpoints.jsonl` live (created 0700 if missing).
    ///   - macKey: the record MAC key (`AuditKeys.mac`).
    ///   - signer: the checkpoint key (`AuditSigningKey.loadOrCreate`).
    public init(directory: String, macKey: SymmetricKey, signer: Ed25519PrivateKey,
                configuration: Configuration = Configuration()) async throws {
        guard configuration.checkpointEvery > 0 else { throw AuditError.invalidArgument("checkpointEvery must be > 0") }
        try Self.makeDirectory(directory)
        self.directory = directory
        self.macKey = macKey
        self.pseudonymKey = try Self.pseudonymKey(macKey: macKey)
        self.signer = signer
        self.configuration = configuration
        let logPath = directory + "/" + Self.logFileName
        let tail = try LogTail.read(path: logPath)
        if let last = tail.lastLine {
            let record: AuditRecord
            do { record = try AuditRecord(line: last[...]) } catch {
                throw AuditError.corrupt("last record of \(logPath) is malformed (\(error)); run `enclave audit verify`")
            }
            let expected = try HMACSHA256.authenticate(record.authenticatedBytes, key: macKey).hexString
            guard constantTimeEquals(Array(expected.utf8), Array(record.mac.utf8)) else {
                throw AuditError.key("the last audit record's MAC does not verify: wrong master key, or tampering")
            }
            nextSeq = record.seq + 1
            head = try SHA256.hash(last).hexString
        } else {
            nextSeq = 1
            head = AuditRecord.genesisHash
        }
        durableSeq = nextSeq - 1
        durableHead = head
        let checkpointPath = directory + "/" + Self.checkpointFileName
        let latest = try Self.latestCheckpoint(path: checkpointPath)
        lastCheckpointCount = latest?.count ?? 0
        lastCheckpointTime = latest?.time ?? .now
        if let latest {
            guard latest.isValid(publicKey: signer.publicKey) else {
                throw AuditError.key("the latest checkpoint is not signed by this signing key")
            }
            guard latest.count <= durableSeq else {
                throw AuditError.corrupt("\(logPath) has \(durableSeq) records but a checkpoint covers \(latest.count);"
                    + " the log was truncated: run `enclave audit verify`")
            }
        }
        logFile = try AppendOnlyFile(path: logPath)
        checkpointFile = try AppendOnlyFile(path: checkpointPath)
        logIdentity = try FileIdentity(path: logPath)
        if tail.tornBytes > 0 {
            _ = try await append(AuditEvent(actor: "-", role: "-", action: AuditAction.auditRecover,
                                            subject: "torn-tail", outcome: "repaired",
                                            detail: "bytes=\(tail.tornBytes)"))
        }
    }

    /// Appends one event and returns its sequence number once it is durable (written and fsynced).
    /// If this throws, the caller must not perform the action the event covers.
    public func append(_ event: AuditEvent) async throws -> UInt64 {
        let seq = try enqueue(event)
        try await makeDurable(seq)
        return seq
    }

    /// Appends several events with one write and one fsync; returns their sequence numbers.
    public func append(contentsOf events: [AuditEvent]) async throws -> [UInt64] {
        var seqs: [UInt64] = []
        seqs.reserveCapacity(events.count)
        for event in events { seqs.append(try enqueue(event)) }
        if let last = seqs.last { try await makeDurable(last) }
        return seqs
    }

    /// The number of durable records.
    public var count: UInt64 { durableSeq }

    /// The keyed HMAC under which a sensitive identifier is stored (`hmac:<32 hex>`); `-` and "" stay as they are.
    public nonisolated func pseudonym(_ value: String) throws -> String {
        try Self.pseudonym(value, key: pseudonymKey)
    }

    /// The pseudonym of `value` for a reader who holds the MAC key (e.g. to search by origin).
    public static func pseudonym(_ value: String, macKey: SymmetricKey) throws -> String {
        try pseudonym(value, key: try pseudonymKey(macKey: macKey))
    }

    /// Writes a checkpoint now if records were added since the last one and one is due (or `force`).
    public func checkpoint(force: Bool = false) async throws {
        await acquire()
        defer { release() }
        try await checkpointIfDueLocked(force: force)
    }

    /// Writes time-based checkpoints until cancelled; run it as a child task of the server.
    public func run() async throws {
        let step = min(configuration.checkpointInterval, .seconds(60))
        while !Task.isCancelled {
            try await Task.sleep(for: step)
            try await checkpoint()
        }
    }

    /// Flushes and writes a final checkpoint covering every record (a clean shutdown).
    public func close() async throws {
        try await checkpoint(force: true)
    }

    // MARK: - Internals

    private func enqueue(_ event: AuditEvent) throws -> UInt64 {
        if let failure { throw AuditError.unavailable("an earlier audit write failed (\(failure)); reopen the log") }
        var stored = event
        stored.origin = try pseudonym(event.origin)
        var record = AuditRecord(seq: nextSeq, event: stored, prev: head, mac: "")
        let authenticated = record.authenticatedBytes
        record.mac = try HMACSHA256.authenticate(authenticated, key: macKey).hexString
        let line = AuditRecord.line(authenticated: authenticated, mac: record.mac)
        head = try SHA256.hash(line).hexString
        pending.append(contentsOf: line)
        pending.append(0x0A)
        nextSeq += 1
        return record.seq
    }

    private func makeDurable(_ seq: UInt64) async throws {
        while durableSeq < seq {
            if let failure { throw AuditError.unavailable("audit write failed: \(failure)") }
            await acquire()
            defer { release() }
            guard durableSeq < seq, failure == nil else { continue }
            let bytes = pending
            let last = nextSeq - 1
            let lastHead = head
            pending.removeAll(keepingCapacity: true)
            let file = logFile
            let identity = logIdentity
            do {
                try await onIOQueue {
                    try identity.check()
                    try file.append(bytes, sync: true)
                }
            } catch {
                let reason = (error as? AuditError) ?? AuditError.unavailable("\(error)")
                failure = reason
                throw reason
            }
            durableSeq = last
            durableHead = lastHead
            try await checkpointIfDueLocked(force: false)
        }
    }

    private func checkpointIfDueLocked(force: Bool) async throws {
        if let failure { throw AuditError.unavailable("audit write failed: \(failure)") }
        guard durableSeq > lastCheckpointCount else { return }
        let now = UTCMillis.now
        let elapsed = Duration.milliseconds(now.value - lastCheckpointTime.value)
        guard force || durableSeq - lastCheckpointCount >= UInt64(configuration.checkpointEvery)
            || elapsed >= configuration.checkpointInterval
        else { return }
        let checkpoint = try AuditCheckpoint.make(count: durableSeq, head: durableHead, time: now, signer: signer)
        let line = checkpoint.line + [0x0A]
        let file = checkpointFile
        do {
            try await onIOQueue { try file.append(line, sync: true) }
        } catch {
            let reason = (error as? AuditError) ?? AuditError.unavailable("\(error)")
            failure = reason
            throw reason
        }
        lastCheckpointCount = checkpoint.count
        lastCheckpointTime = now
        if let command = configuration.checkpointCommand, !command.isEmpty {
            let succeeded = (try? await onIOQueue { try Self.runCommand(command, input: line) }) ?? false
            if !succeeded { checkpointCommandFailures += 1 }
        }
    }

    /// Waits for exclusive use of the files (one flush or checkpoint at a time).
    private func acquire() async {
        while busy { await withCheckedContinuation { waiters.append($0) } }
        busy = true
    }

    private func release() {
        busy = false
        let waiting = waiters
        waiters.removeAll()
        for waiter in waiting { waiter.resume() }
    }

    /// Runs blocking file work on the log's serial I/O queue, off the cooperative thread pool.
    private func onIOQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            ioQueue.async {
                do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    private static func runCommand(_ command: [String], input: [UInt8]) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let pipe = Pipe()
        process.standardInput = pipe
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try pipe.fileHandleForWriting.write(contentsOf: Data(input))
        try pipe.fileHandleForWriting.close()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    static func pseudonymKey(macKey: SymmetricKey) throws -> SymmetricKey {
        try HKDFSHA256.deriveKey(from: macKey, salt: [], info: Array("enclave/audit/pseudonym/v1".utf8))
    }

    private static func pseudonym(_ value: String, key: SymmetricKey) throws -> String {
        if value.isEmpty || value == "-" { return value }
        return "hmac:" + Array(try HMACSHA256.authenticate(Array(value.utf8), key: key).prefix(16)).hexString
    }

    static func latestCheckpoint(path: String) throws -> AuditCheckpoint? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let bytes = try readWholeFile(path)
        guard let end = bytes.lastIndex(of: 0x0A) else {
            if bytes.isEmpty { return nil }
            throw AuditError.corrupt("\(path) has an unterminated line")
        }
        let start = (bytes[..<end].lastIndex(of: 0x0A)).map { $0 + 1 } ?? 0
        guard let checkpoint = AuditCheckpoint(line: bytes[start..<end]) else {
            throw AuditError.corrupt("the last line of \(path) is not a checkpoint")
        }
        return checkpoint
    }

    /// Creates `path` (0700) if it does not exist.
    static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw AuditError.io(operation: "mkdir", path: path, reason: "\(error.localizedDescription)")
        }
    }
}
