// One SQLite connection: opening with the durability and privacy settings Enclave requires,
// a cache of prepared statements, typed queries, transactions and named migrations.
//
// At open the connection sets and then reads back WAL journaling, synchronous=FULL (a commit is on
// disk before it returns), secure_delete=ON (freed pages are overwritten, so deleted ciphertext and
// wrapped keys do not linger), temp_store=MEMORY (no temp files) and foreign_keys=ON, and refuses to
// run if any of them is not in force. Not Sendable: each connection belongs to one actor.
internal import CSQLite

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// A schema change, applied once, in order; `user_version` counts how many have been applied.
public struct Migration: Sendable {
    public let name: String
    public let sql: String

    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}

/// An open database connection with a statement cache.
public final class SQLiteConnection {
    let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    private var transactionDepth = 0

    /// Opens (creating if allowed) the database at `path` and enforces the required pragmas.
    /// - Parameters:
    ///   - busyTimeoutMilliseconds: how long a statement waits for another connection's lock.
    public init(path: String, create: Bool = true, busyTimeoutMilliseconds: Int32 = 5_000) throws {
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        if create {
            flags |= SQLITE_OPEN_CREATE
            // Create a new database file owner-only before SQLite does (it would honour the umask,
            // typically 0644). SQLite gives its -wal and -shm files the database file's mode.
            let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd) }
        }
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message, sql: nil)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        try enforceSettings()
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Sets each required pragma and reads it back; throws if SQLite did not take it.
    private func enforceSettings() throws {
        // Reading the schema first makes a non-database file fail here with SQLITE_NOTADB.
        _ = try query("PRAGMA schema_version")
        let required: [(set: String, read: String, expected: SQLiteValue)] = [
            ("PRAGMA journal_mode=WAL", "PRAGMA journal_mode", .text("wal")),
            ("PRAGMA synchronous=FULL", "PRAGMA synchronous", .integer(2)),
            ("PRAGMA secure_delete=ON", "PRAGMA secure_delete", .integer(1)),
            ("PRAGMA temp_store=MEMORY", "PRAGMA temp_store", .integer(2)),
            ("PRAGMA foreign_keys=ON", "PRAGMA foreign_keys", .integer(1)),
        ]
        for pragma in required {
            _ = try query(pragma.set)
            let actual = try query(pragma.read).first?[0]
            guard actual == pragma.expected else {
                throw SQLiteError(
                    code: SQLITE_MISUSE,
                    message: "refusing to run: \(pragma.read) is "
                        + "\(String(describing: actual)), need \(pragma.expected)", sql: pragma.set)
            }
        }
    }

    /// Turns a result code into a thrown `SQLiteError` unless it is SQLITE_OK.
    func check(_ rc: Int32, sql: String?) throws {
        guard rc != SQLITE_OK else { return }
        throw error(rc, sql: sql)
    }

    /// The `SQLiteError` for `rc`, with the connection's current message.
    func error(_ rc: Int32, sql: String?) -> SQLiteError {
        let extended = sqlite3_extended_errcode(handle)
        let code = (extended & 0xff) == (rc & 0xff) ? extended : rc
        return SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// The cached statement for `sql`, compiled on first use.
    private func statement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        let statement = try SQLiteStatement(connection: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Runs one statement and returns every row.
    @discardableResult
    public func query(_ sql: String, _ values: [any SQLiteBindable] = []) throws -> [SQLiteRow] {
        let statement = try statement(sql)
        defer { statement.finish() }
        try statement.bind(values)
        var rows: [SQLiteRow] = []
        while try statement.step() { rows.append(statement.row()) }
        return rows
    }

    /// Runs one statement and lends each row, in place, to `body` (no per-row value copies): the
    /// read path for hot queries such as a conversation's history (and for `enclave bench store`'s
    /// plaintext baseline, which must read the way the Store reads).
    package func forEachRow(
        _ sql: String, _ values: [any SQLiteBindable], _ body: (borrowing SQLiteCursor) throws -> Void
    ) throws {
        let statement = try statement(sql)
        defer { statement.finish() }
        try statement.bind(values)
        while try statement.step() { try statement.withCursor(body) }
    }

    /// Runs one statement and lends its first row, in place, to `body`; returns what `body` returns, or nil
    /// when there is no row. Unlike a row captured into a variable, the result may hold values that must
    /// stay in the caller's isolation (e.g. the Store actor's cached keys).
    func firstRow<R>(
        _ sql: String, _ values: [any SQLiteBindable], _ body: (borrowing SQLiteCursor) throws -> R
    ) throws -> R? {
        let statement = try statement(sql)
        defer { statement.finish() }
        try statement.bind(values)
        guard try statement.step() else { return nil }
        return try statement.withCursor(body)
    }

    /// Runs one statement that returns no rows; returns the number of rows changed.
    @discardableResult
    public func run(_ sql: String, _ values: [any SQLiteBindable] = []) throws -> Int {
        try query(sql, values)
        return Int(sqlite3_changes(handle))
    }

    /// Runs a script of several statements (no parameters), e.g. a migration.
    public func execute(_ script: String) throws {
        try check(sqlite3_exec(handle, script, nil, nil, nil), sql: script)
    }

    /// Runs `body` in a transaction (BEGIN IMMEDIATE, so the write lock is taken up front);
    /// commits if it returns, rolls back if it throws. Nested calls join the outer transaction.
    public func transaction<R>(_ body: () throws -> R) throws -> R {
        if transactionDepth > 0 {
            transactionDepth += 1
            defer { transactionDepth -= 1 }
            return try body()
        }
        try execute("BEGIN IMMEDIATE")
        transactionDepth = 1
        defer { transactionDepth = 0 }
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(handle) == 0 { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// `PRAGMA user_version`: how many migrations have been applied.
    public func userVersion() throws -> Int { try query("PRAGMA user_version").first?[0].int ?? 0 }

    /// Applies, in order and each in its own transaction, every migration not yet applied.
    /// Throws if the database is newer than this code (more migrations applied than it knows).
    /// `upgrade(version)` runs inside the transaction of migration `version` (1-based) after its SQL, for
    /// the steps SQL cannot do (re-sealing with keys); when it throws, the migration is not applied.
    public func migrate(_ migrations: [Migration], upgrade: (Int) throws -> Void = { _ in }) throws {
        let applied = try userVersion()
        guard applied <= migrations.count else {
            throw SQLiteError(
                code: SQLITE_MISUSE,
                message: "database schema version \(applied) is newer than this "
                    + "program's \(migrations.count)")
        }
        for (index, migration) in migrations.enumerated() where index >= applied {
            do {
                try transaction {
                    try execute(migration.sql)
                    try upgrade(index + 1)
                    try execute("PRAGMA user_version = \(index + 1)")
                }
            } catch let error as SQLiteError {
                throw SQLiteError(
                    code: error.code, message: "migration \(migration.name): \(error.message)",
                    sql: error.sql)
            }
        }
    }

    /// The rowid of the last INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Checkpoints the WAL into the database and truncates the WAL file to zero bytes.
    public func checkpointTruncate() throws {
        var logFrames: Int32 = 0
        var checkpointed: Int32 = 0
        let rc = sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_TRUNCATE, &logFrames, &checkpointed)
        try check(rc, sql: "wal_checkpoint(TRUNCATE)")
    }

    /// `PRAGMA integrity_check`'s answer ("ok" when the file is sound).
    public func integrityCheck() throws -> String {
        try query("PRAGMA integrity_check").map { $0[0].string ?? "" }.joined(separator: "\n")
    }
}
