// The Store: Enclave's conversation history in one SQLite file, every user-written field sealed.
//
// Key hierarchy (DESIGN.md §4): master key (a `KeyRing` version) → per-conversation random data key,
// wrapped with AES-256-GCM under a master version → each sealed field (AES-256-GCM, random nonce, AAD
// binding table, row, conversation, role and key version). At open the Store checks every master
// version the database still uses against its key check value, before any row is read or written, so
// a wrong key stops start-up with `wrong-master-key` and leaves the file untouched.
//
// The Store is an actor owning one connection; SQLite calls block it briefly (short statements, WAL).
// Appends are group-committed: concurrent appends share one transaction and one fsync.
internal import EnclaveCrypto
internal import Foundation

/// Sealed conversation storage over one SQLite database.
public actor Store {
    let db: SQLiteConnection
    let keyRing: KeyRing
    /// False only for the benchmark's plaintext twin (same schema and code path, no sealing).
    let sealing: Bool
    /// The next `seq` per conversation, filled on first append.
    var nextSeq: [ConversationID: Int] = [:]
    /// Appends waiting for the group commit in progress.
    var pending: [PendingAppend] = []
    /// Whether an append is currently gathering or committing a group.
    var committing = false
    /// Number of commits made for appends (for tests and the benchmark: fewer than appends means grouping).
    public internal(set) var appendCommits = 0

    /// The database file.
    public nonisolated let path: String

    /// Opens (creating if needed) the database at `path`; checks the master keys, then migrates.
    /// - Throws: `StoreError` with code `wrong-master-key`, `missing-master-key`, `corrupt-database`,
    ///   `read-only`, `disk-full`, `unsupported-database`, ...
    public init(path: String, keyRing: KeyRing) throws {
        try self.init(path: path, keyRing: keyRing, sealing: true)
    }

    /// The benchmark's entry point: `sealing: false` stores the same rows with plaintext columns.
    package init(path: String, keyRing: KeyRing, sealing: Bool) throws {
        let db = try mapErrors { try SQLiteConnection(path: path) }
        try Self.verifyMasterKeys(db, keyRing)
        try mapErrors {
            try db.migrate(Schema.migrations)
            try db.transaction {
                if try db.query("SELECT COUNT(*) FROM master_keys").first?[0].int == 0 {
                    let version = keyRing.latestVersion
                    try db.run(
                        "INSERT INTO master_keys (version, check_value, state, created) VALUES (?, ?, 'active', ?)",
                        [version, try keyRing.checkValue(version: version) ?? [], Date().timeIntervalSince1970])
                }
            }
        }
        self.db = db
        self.keyRing = keyRing
        self.sealing = sealing
        self.path = path
    }

    /// Compares the key check value of every master version still in use with the key ring's.
    private static func verifyMasterKeys(_ db: SQLiteConnection, _ keyRing: KeyRing) throws {
        let known = try mapErrors { () -> [SQLiteRow] in
            guard try db.userVersion() > 0 else { return [] }
            return try db.query("SELECT version, check_value, state FROM master_keys ORDER BY version")
        }
        for row in known where row[2].string != MasterKeyStatus.State.retired.rawValue {
            let version = row[0].int ?? 0
            guard let expected = try keyRing.checkValue(version: version) else {
                throw StoreError(
                    .missingMasterKey,
                    "the database needs master key version \(version), which the "
                        + "key source does not hold")
            }
            guard constantTimeEquals(expected, row[1].bytes ?? []) else {
                throw StoreError(
                    .wrongMasterKey,
                    "master key version \(version) does not match this database's key "
                        + "check value: wrong key file, variable or command; nothing was read or written")
            }
        }
    }

    /// The master version new data keys are wrapped under (the newest active one).
    func activeMasterVersion() throws -> Int {
        guard let version = try db.query("SELECT MAX(version) FROM master_keys WHERE state = 'active'").first?[0].int
        else { throw StoreError(.missingMasterKey, "no active master key version in the database") }
        return version
    }

    // MARK: Sealing

    /// Seals `text` for one field (or stores its bytes as they are in the plaintext twin).
    func seal(_ text: String, key: SymmetricKey, aad: [UInt8]) throws -> [UInt8] {
        guard sealing else { return Array(text.utf8) }
        var plain = Array(text.utf8)
        defer { secureZero(&plain) }
        return try AESGCM.seal(plain, key: key, aad: aad).combined
    }

    /// Opens one sealed field; any failure is an `integrity` error naming `row`, with no plaintext.
    func open(_ sealed: [UInt8], key: SymmetricKey, aad: [UInt8], row: String) throws -> String {
        guard sealing else { return String(decoding: sealed, as: UTF8.self) }
        do {
            var plain = try AESGCM.open(SealedBox(combined: sealed), key: key, aad: aad)
            defer { secureZero(&plain) }
            return String(decoding: plain, as: UTF8.self)
        } catch {
            throw StoreError(.integrity, "\(row) failed authentication (tampered, copied from elsewhere, or wrong key)")
        }
    }

    /// The AAD for a data key wrapped under master `version`.
    static func wrapAAD(_ id: ConversationID, version: Int) -> [UInt8] {
        Schema.aad("conversations", row: id.rawValue, conversation: id, role: "data-key", keyVersion: version)
    }

    /// The data key of conversation `id`, unwrapped. Throws `not-found` or `integrity`.
    func dataKey(_ id: ConversationID) throws -> SymmetricKey {
        guard
            let row = try mapErrors({
                try db.query("SELECT wrapped_key, key_version FROM conversations WHERE id = ?", [id.rawValue]).first
            })
        else { throw StoreError(.notFound, "no conversation \(id)") }
        return try unwrapDataKey(id, wrapped: row[0].bytes ?? [], version: row[1].int ?? 0)
    }

    func unwrapDataKey(_ id: ConversationID, wrapped: [UInt8], version: Int) throws -> SymmetricKey {
        guard let wrapping = keyRing.wrappingKey(version: version) else {
            throw StoreError(.missingMasterKey, "conversation \(id) needs master key version \(version)")
        }
        do {
            return try KeyWrap.unwrap(wrapped, under: wrapping, aad: Self.wrapAAD(id, version: version))
        } catch {
            throw StoreError(.integrity, "conversations row \(id): wrapped data key failed authentication")
        }
    }

    // MARK: Maintenance

    /// `PRAGMA integrity_check` ("ok" when sound).
    public func integrityCheck() throws -> String { try mapErrors { try db.integrityCheck() } }

    /// Checkpoints the WAL into the database file and truncates the WAL.
    public func checkpoint() throws { try mapErrors { try db.checkpointTruncate() } }
}
