// The Store: Enclave's conversation history in one SQLite file, every user-written field sealed.
//
// Key hierarchy (DESIGN.md §4): master key (a `KeyRing` version) → per-conversation random data key,
// wrapped with AES-256-GCM under a master version → each sealed field (AES-256-GCM, random nonce, AAD
// binding table, row, conversation, role and key version). At open the Store checks every master
// version the database still uses against its key check value, before any row is read or written, so
// a wrong key stops start-up with `wrong-master-key` and leaves the file untouched.
//
// The Store is an actor owning one connection; SQLite calls block it briefly (short statements, WAL), on
// a queue of its own rather than the cooperative pool (QueueExecutor.swift). Appends are group-committed:
// concurrent appends share one transaction and one fsync.
internal import EnclaveCrypto
internal import Foundation
import Synchronization

/// Sealed conversation storage over one SQLite database.
public actor Store {
    /// Where the Store's work runs: off the cooperative pool, since a commit blocks for its fsync.
    private nonisolated let executor = QueueExecutor(label: "enclave.store")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let db: SQLiteConnection
    let keyRing: KeyRing
    /// The next `seq` per conversation, filled on first append.
    var nextSeq: [ConversationID: Int] = [:]
    /// Appends waiting for the group commit in progress.
    var pending: [PendingAppend] = []
    /// Whether an append is currently gathering or committing a group.
    var committing = false
    /// Appends called and not yet returned, including those still waiting to enter the actor.
    nonisolated let appendsInFlight = Atomic<Int>(0)
    /// Number of commits made for appends (for tests and the benchmark: fewer than appends means grouping).
    public internal(set) var appendCommits = 0
    /// Unwrapped data keys of recently used conversations (bounded; keys are cleansed when dropped).
    var dataKeys = DataKeyCache(capacity: Store.dataKeyCacheCapacity)
    /// Bodies a history read has opened, remembered when it has read its last row (Store+Conversations.swift).
    var openedInRead: [OpenedBody] = []
    /// Message bodies decrypted by history reads so far (for tests: memo hits do not count).
    package internal(set) var bodiesDecrypted = 0
    /// Master versions whose key in the ring matched the database's key check value.
    var verifiedVersions: Set<Int>

    /// How many unwrapped data keys the Store keeps at most.
    static let dataKeyCacheCapacity = 256

    /// The database file.
    public nonisolated let path: String

    /// Opens (creating if needed) the database at `path`; checks the master keys, then migrates.
    /// - Throws: `StoreError` with code `wrong-master-key`, `missing-master-key`, `corrupt-database`,
    ///   `read-only`, `disk-full`, `unsupported-database`, `database-too-new`, ...
    public init(path: String, keyRing: KeyRing) throws {
        let db = try mapErrors { try SQLiteConnection(path: path) }
        try Self.refuseNewerSchema(db)
        var verified = try Self.verifyMasterKeys(db, keyRing)
        try mapErrors {
            try db.migrate(Schema.migrations) { version in
                if version == 2 {
                    try Self.bindExistingRows(db, keyRing: keyRing, verified: verified)
                }
            }
            try db.transaction {
                if try db.query("SELECT COUNT(*) FROM master_keys").first?[0].int == 0 {
                    let version = keyRing.latestVersion
                    try db.run(
                        "INSERT INTO master_keys (version, check_value, state, created) VALUES (?, ?, 'active', ?)",
                        [version, try keyRing.checkValue(version: version) ?? [], Date().timeIntervalSince1970])
                    verified.insert(version)
                }
            }
        }
        self.db = db
        self.keyRing = keyRing
        self.path = path
        self.verifiedVersions = verified
    }

    /// Refuses a database a newer release has migrated further than this binary knows (before any row is
    /// read or written): its rows may mean something this code would misread or destroy.
    private static func refuseNewerSchema(_ db: SQLiteConnection) throws {
        let found = try mapErrors { try db.userVersion() }
        guard found <= Schema.migrations.count else {
            throw StoreError(
                .databaseTooNew,
                "the database has schema version \(found) but this release of Enclave knows only "
                    + "\(Schema.migrations.count): it was written by a newer release. Run that release (or newer), "
                    + "or restore a backup taken before the upgrade; nothing was read or written")
        }
    }

    /// Compares the key check value of every master version still in use with the key ring's;
    /// returns the versions checked.
    private static func verifyMasterKeys(_ db: SQLiteConnection, _ keyRing: KeyRing) throws -> Set<Int> {
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
        return Set(known.compactMap { $0[2].string == MasterKeyStatus.State.retired.rawValue ? nil : $0[0].int })
    }

    /// The master version new data keys are wrapped under (the newest active one).
    func activeMasterVersion() throws -> Int {
        guard let version = try db.query("SELECT MAX(version) FROM master_keys WHERE state = 'active'").first?[0].int
        else { throw StoreError(.missingMasterKey, "no active master key version in the database") }
        return version
    }

    // MARK: Sealing

    /// Seals `text` for one field, straight from the string's own UTF-8 storage with the key's cached
    /// context: no plaintext copy is made.
    func seal(_ text: String, key: DataKey, aad: [UInt8]) throws -> [UInt8] {
        let sealer = try key.sealer()
        var text = text
        return try text.withUTF8 { plain in
            try aad.withUnsafeBytes { aad in try sealer.seal(UnsafeRawBufferPointer(plain), aad: aad) }
        }
    }

    /// Opens one sealed field straight into the returned string (no intermediate plaintext copy).
    /// Any failure is an `integrity` error naming `row`, and no plaintext leaves this function.
    func open(_ sealed: UnsafeRawBufferPointer, key: DataKey, aad: [UInt8], row: @autoclosure () -> String)
        throws -> String
    {
        let text = try opening(sealed, key: key, aad: aad) { count, open in
            var opened = false
            let text = try String(unsafeUninitializedCapacity: count) { out in
                opened = try open(UnsafeMutableRawBufferPointer(out))
                return opened ? count : 0
            }
            return opened ? text : nil
        }
        guard let text else { throw Self.authenticationFailure(row()) }
        return text
    }

    /// Opens one sealed message body into a new memo entry (OpenedBodies.swift), with the same
    /// checks and errors as `open(_:key:aad:row:)`.
    func openBody(
        _ sealed: UnsafeRawBufferPointer, key: DataKey, aad: [UInt8], seq: Int, role: String, id: ConversationID
    ) throws -> OpenedBody {
        let body = try opening(sealed, key: key, aad: aad) { count, open in
            try OpenedBody.make(seq: seq, role: role, sealed: sealed, plaintextCount: count, open: open)
        }
        guard let body else { throw Self.authenticationFailure("messages row \(id)/\(seq)") }
        return body
    }

    /// Calls `make` with the plaintext size of `sealed` and a function that authenticates and decrypts it
    /// into a buffer of that size (true when it authenticated; the buffer is zeroed when not). Nil when
    /// `sealed` is too short to be a sealed box, or `make` returns nil.
    private func opening<T>(
        _ sealed: UnsafeRawBufferPointer, key: DataKey, aad: [UInt8],
        _ make: (Int, (UnsafeMutableRawBufferPointer) throws -> Bool) throws -> T?
    ) throws -> T? {
        guard let count = AESGCM.Opener.plaintextCount(combinedCount: sealed.count) else { return nil }
        let opener = try key.opener()
        return try aad.withUnsafeBytes { aad in
            try make(count) { out in try opener.open(combined: sealed, aad: aad, into: out) }
        }
    }

    /// The error for a sealed field of `row` that does not open.
    static func authenticationFailure(_ row: String) -> StoreError {
        StoreError(.integrity, "\(row) failed authentication (tampered, copied from elsewhere, or wrong key)")
    }

    /// `open(_:key:aad:row:)` for a field held in an array.
    func open(_ sealed: [UInt8], key: DataKey, aad: [UInt8], row: @autoclosure () -> String) throws -> String {
        try sealed.withUnsafeBytes { try open($0, key: key, aad: aad, row: row()) }
    }

    /// The data key of conversation `id`.
    /// Throws `not-found`, `integrity`, `missing-master-key` or `wrong-master-key`.
    func dataKey(_ id: ConversationID) throws -> DataKey {
        try keyRow(id, openingCount: false).key
    }

    /// Conversation `id`'s data key and its message count (when `openingCount`, else 0), from one row read
    /// in place: the wrapped key and the sealed count are compared with the cached key and its remembered
    /// count where SQLite holds them, and copied only when they must be unwrapped or opened.
    func keyRow(_ id: ConversationID, openingCount: Bool = true) throws -> (key: DataKey, count: Int) {
        let found = try mapErrors {
            try db.firstRow(
                "SELECT wrapped_key, key_version, owner, message_count FROM conversations WHERE id = ?", [id.rawValue]
            ) { row -> (key: DataKey, count: Int) in
                let owner = row.string(2) ?? ""
                let version = row.int(1) ?? 0
                let key = try row.withBytes(0) { try dataKey(id, owner: owner, wrapped: $0, version: version) }
                var count = 0
                if openingCount {
                    count =
                        try row.isNull(3)
                        ? openCount(UnsafeRawBufferPointer?.none, key: key, id: id)
                        : row.withBytes(3) { try openCount($0, key: key, id: id) }
                }
                return (key, count)
            }
        }
        guard let found else { throw StoreError(.notFound, "no conversation \(id)") }
        return found
    }

    /// The data key wrapped as `wrapped` under `version` for `owner`: the cached one when it was unwrapped
    /// from exactly these bytes for this owner, else unwrapped (and authenticated) now and cached.
    func dataKey(_ id: ConversationID, owner: String, wrapped: UnsafeRawBufferPointer, version: Int) throws -> DataKey {
        if let cached = dataKeys.lookup(id, owner: owner, wrapped: wrapped, version: version) { return cached }
        let bytes = Array(wrapped)
        let key = DataKey(
            key: try unwrapDataKey(id, owner: owner, wrapped: bytes, version: version), owner: owner, wrapped: bytes,
            version: version)
        dataKeys.insert(key, for: id)
        return key
    }

    func unwrapDataKey(_ id: ConversationID, owner: String, wrapped: [UInt8], version: Int) throws -> SymmetricKey {
        let wrapping = try wrappingKey(version: version, for: "conversation \(id)")
        do {
            return try KeyWrap.unwrap(wrapped, under: wrapping, aad: Self.wrapAAD(id, owner: owner, version: version))
        } catch {
            throw StoreError(
                .integrity, "conversations row \(id): wrapped data key failed authentication (owner or key changed)")
        }
    }

    /// The ring's wrapping key for master `version`, checked once against the database's key check value.
    /// A version the ring does not hold (another process, e.g. `enclave keys rotate`, has since added it)
    /// makes the ring re-read its key source, at most once a second.
    func wrappingKey(version: Int, for user: @autoclosure () -> String) throws -> SymmetricKey {
        if verifiedVersions.contains(version), let key = keyRing.wrappingKey(version: version) { return key }
        var reloadProblem = ""
        if keyRing.wrappingKey(version: version) == nil {
            do {
                try keyRing.reloadFromSource()
            } catch {
                reloadProblem = " (re-reading the key source failed: \(error))"
            }
        }
        guard let key = keyRing.wrappingKey(version: version) else {
            throw StoreError(
                .missingMasterKey,
                "\(user()) needs master key version \(version), which the key ring does not hold"
                    + reloadProblem)
        }
        let stored = try mapErrors {
            try db.query("SELECT check_value FROM master_keys WHERE version = ?", [version]).first?[0].bytes
        }
        guard let stored, let mine = try keyRing.checkValue(version: version), constantTimeEquals(mine, stored) else {
            // Drop the wrong key so that a corrected source can be picked up by a later re-read.
            if stored != nil { keyRing.removeVersion(version) }
            throw StoreError(
                .wrongMasterKey,
                "master key version \(version) from the key source does not match this database's key check value")
        }
        verifiedVersions.insert(version)
        return key
    }

    // MARK: Maintenance

    /// `PRAGMA integrity_check` ("ok" when sound).
    public func integrityCheck() throws -> String { try mapErrors { try db.integrityCheck() } }

    /// Checkpoints the WAL into the database file and truncates the WAL.
    public func checkpoint() throws { try mapErrors { try db.checkpointTruncate() } }

    /// Forgets every remembered message body (zeroing its plaintext) while keeping the data keys:
    /// the benchmark's cold history reads, which authenticate and decrypt every row.
    package func forgetOpenedBodies() { dataKeys.forgetOpened() }

    /// Bytes the memo of opened bodies holds now (for tests).
    package var openedBodyBytes: Int { dataKeys.openedBytes }
}
