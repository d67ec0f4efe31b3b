public import EnclaveCrypto
// The writer of `<dir>/audit.jsonl`: in each process one `AuditLog` owns the files, and processes take
// turns under an exclusive `flock` (the server and an operator command such as `enclave users add` may
// write the same log; see `AuditLogWriter`). `append` returns only after the record is on disk (write +
// fsync); `submit` starts a record and `durable` waits for it, so a caller can do other work meanwhile.
// Records submitted while a write runs go out together in the next one (group commit, see
// `AuditWriteQueue`). If a write fails the log is poisoned: that record and every later one throw, so
// the action they cover never happens (fail closed). Every `checkpointEvery` records or
// `checkpointInterval` (checked on each write and by `run()`), a signed checkpoint goes to
// `checkpoints.jsonl` and to an optional command.
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The append-only, hash-chained, MAC'd audit log of one directory.
public final class AuditLog: Sendable {
    /// Tuning for checkpoints; see `AuditLog.init`.
    public struct Configuration: Sendable {
        /// A checkpoint after this many records since the last one.
        public var checkpointEvery: Int
        /// A checkpoint once this much time has passed since the last one (if records were added).
        public var checkpointInterval: Duration
        /// An optional command (argv) that receives each checkpoint line on standard input, e.g. `logger -t enclave`.
        public var checkpointCommand: [String]?
        /// How long records are kept, in days (default six years). Deleting a conversation leaves its
        /// records in place; records older than this are removed from the front of the log by
        /// `pruneExpired` (serve's daily sweep, `enclave audit prune`), never while a legal hold applies.
        public var retentionDays: Int

        /// Six years, the longest common retention rule for medical and financial records.
        public static let defaultRetentionDays = 6 * 365 + 2

        public init(
            checkpointEvery: Int = 1000, checkpointInterval: Duration = .seconds(300),
            checkpointCommand: [String]? = nil, retentionDays: Int = Configuration.defaultRetentionDays
        ) {
            self.checkpointEvery = checkpointEvery
            self.checkpointInterval = checkpointInterval
            self.checkpointCommand = checkpointCommand
            self.retentionDays = retentionDays
        }
    }

    public static let logFileName = "audit.jsonl"
    public static let checkpointFileName = "checkpoints.jsonl"

    public nonisolated let directory: String
    let macKey: SymmetricKey
    private let pseudonymKey: SymmetricKey
    let signer: Ed25519PrivateKey
    let configuration: Configuration
    private let queue: AuditWriteQueue
    /// Peer address → pseudonym, for the addresses seen lately (at most `rememberedOrigins`).
    private let origins = Mutex<[String: String]>([:])
    private static let rememberedOrigins = 4096

    /// How many times the checkpoint command failed (the local checkpoint file was still written).
    public var checkpointCommandFailures: Int { queue.commandFailures }

    /// Why the log takes no more records (a write failed, so every later one is refused), or nil.
    public var writeFailure: AuditError? { queue.failure }

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
    public init(
        directory: String, macKey: SymmetricKey, signer: Ed25519PrivateKey,
        configuration: Configuration = Configuration()
    ) async throws {
        guard configuration.checkpointEvery > 0 else { throw AuditError.invalidArgument("checkpointEvery must be > 0") }
        try Self.makeDirectory(directory)
        self.directory = directory
        self.macKey = macKey
        self.pseudonymKey = try Self.pseudonymKey(macKey: macKey)
        self.signer = signer
        self.configuration = configuration
        let logPath = directory + "/" + Self.logFileName
        let checkpointPath = directory + "/" + Self.checkpointFileName
        let created =
            !FileManager.default.fileExists(atPath: logPath)
            || !FileManager.default.fileExists(atPath: checkpointPath)
        let log = try CurrentLogFile(path: logPath, publicKey: signer.publicKey)
        let checkpointFile = try AppendOnlyFile(path: checkpointPath)
        if created { try syncDirectory(directory) }
        let writer = AuditLogWriter(log: log, checkpointFile: checkpointFile, macKey: macKey, signer: signer)
        // Under the lock: another process may be writing (or pruning) the log right now.
        let (logFile, _) = try log.lock()
        let chain: ChainState
        let tornBytes: Int
        let latest: AuditCheckpoint?
        do {
            defer { logFile.unlock() }
            (chain, tornBytes) = try writer.catchUp()
            latest = try Self.latestCheckpoint(path: checkpointPath)
        }
        if let latest {
            guard latest.isValid(publicKey: signer.publicKey) else {
                throw AuditError.key("the latest checkpoint is not signed by this signing key")
            }
            guard latest.count <= chain.lastSeq else {
                throw AuditError.corrupt(
                    "\(logPath) has \(chain.lastSeq) records but a checkpoint covers \(latest.count);"
                        + " the log was truncated: run `enclave audit verify`")
            }
        }
        queue = AuditWriteQueue(
            writer: writer, chain: chain, lastCheckpoint: (latest?.count ?? 0, latest?.time ?? .now),
            configuration: configuration)
        if tornBytes > 0 { _ = try await append(AuditLogWriter.recoverEvent(tornBytes: tornBytes)) }
    }

    /// A log that checkpoints every `checkpointEvery` records or `checkpointInterval`, with the other settings
    /// at their defaults.
    public convenience init(
        directory: String, macKey: SymmetricKey, signer: Ed25519PrivateKey, checkpointEvery: Int,
        checkpointInterval: Duration
    ) async throws {
        try await self.init(
            directory: directory, macKey: macKey, signer: signer,
            configuration: Configuration(checkpointEvery: checkpointEvery, checkpointInterval: checkpointInterval))
    }

    /// Appends one event and returns its sequence number once it is durable (written and fsynced).
    /// If this throws, the caller must not perform the action the event covers.
    public func append(_ event: AuditEvent) async throws -> UInt64 {
        try await durable(submit(event))
    }

    /// Appends several events with one write and one fsync; returns their sequence numbers.
    public func append(contentsOf events: [AuditEvent]) async throws -> [UInt64] {
        let tickets = try queue.submit(events.map(pseudonymised))
        var seqs: [UInt64] = []
        for ticket in tickets { seqs.append(try await durable(ticket)) }
        return seqs
    }

    /// Starts appending `event` and returns at once; records are written in the order they are submitted.
    /// The record counts only once `durable(_:)` returned for its ticket.
    /// - Throws: `AuditError.unavailable` once a write has failed.
    public func submit(_ event: AuditEvent) throws -> AuditTicket {
        try queue.submit([pseudonymised(event)])[0]
    }

    /// `event` as it is stored: its origin replaced by the origin's pseudonym.
    private func pseudonymised(_ event: AuditEvent) throws -> AuditEvent {
        var stored = event
        stored.origin = try originPseudonym(event.origin)
        return stored
    }

    /// `pseudonym(origin)`, remembered: a connection's records all carry the same peer address.
    private func originPseudonym(_ origin: String) throws -> String {
        if let known = origins.withLock({ $0[origin] }) { return known }
        let pseudonym = try pseudonym(origin)
        origins.withLock { known in
            if known.count >= Self.rememberedOrigins { known.removeAll(keepingCapacity: true) }
            known[origin] = pseudonym
        }
        return pseudonym
    }

    /// Returns the sequence number of a submitted record once it is on disk (written and fsynced). If this
    /// throws, the caller must not perform the action the record covers.
    public func durable(_ ticket: AuditTicket) async throws -> UInt64 {
        try await queue.durable(ticket)
    }

    /// The number of durable records (as of this process's last write; other writers may have added more).
    public var count: UInt64 { queue.count }

    /// The keyed HMAC under which a sensitive identifier is stored (`hmac:<32 hex>`); `-` and "" stay as they are.
    public func pseudonym(_ value: String) throws -> String {
        try Self.pseudonym(value, key: pseudonymKey)
    }

    /// The pseudonym of `value` for a reader who holds the MAC key (e.g. to search by origin).
    public static func pseudonym(_ value: String, macKey: SymmetricKey) throws -> String {
        try pseudonym(value, key: try pseudonymKey(macKey: macKey))
    }

    /// Writes a checkpoint now if records were added since the last one and one is due (or `force`).
    public func checkpoint(force: Bool = false) async throws {
        try await queue.checkpoint(force: force)
    }

    /// Verifies this log's directory with its own keys: every MAC, the chain and the signed checkpoints
    /// (`/audit verify` in chat; the same check as `enclave audit verify` without `--checkpoints`).
    public func verify() throws -> AuditVerificationReport {
        try AuditVerifier.verify(directory: directory, macKey: macKey, publicKey: signer.publicKey)
    }

    /// Writes time-based checkpoints until cancelled; run it as a child task of the server.
    public func run() async throws {
        let step = max(.milliseconds(100), min(configuration.checkpointInterval, .seconds(60)))
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

    /// Feeds a checkpoint line to the configured command; true when it exited 0.
    static func runCommand(_ command: [String], input: [UInt8]) throws -> Bool {
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

    static func pseudonym(_ value: String, key: SymmetricKey) throws -> String {
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
