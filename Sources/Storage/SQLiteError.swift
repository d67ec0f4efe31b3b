// The one place SQLite result codes become Swift errors.
//
// Every call into libsqlite3 whose result matters goes through `SQLiteConnection.check`, which reads
// `sqlite3_errmsg` while the connection is still in the failing state and throws a `SQLiteError`
// carrying the primary and extended code, SQLite's message and the statement (never bound values).
internal import CSQLite

/// A failed SQLite call: result code, SQLite's message and the SQL text it was running, if any.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The extended result code (`code & 0xff` is the primary code).
    public let code: Int32
    public let message: String
    public let sql: String?

    public init(code: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// The primary result code (SQLITE_BUSY, SQLITE_FULL, ...).
    public var primaryCode: Int32 { code & 0xff }

    public var description: String {
        "SQLite error \(code): \(message)" + (sql.map { " (in \($0.prefix(120)))" } ?? "")
    }

    /// The database or disk is full.
    public var isDiskFull: Bool { primaryCode == SQLITE_FULL }
    /// The file is not a database or is corrupt.
    public var isCorrupt: Bool { primaryCode == SQLITE_CORRUPT || primaryCode == SQLITE_NOTADB }
    /// A write was attempted on a read-only database or directory.
    public var isReadOnly: Bool { primaryCode == SQLITE_READONLY || primaryCode == SQLITE_CANTOPEN }
    /// Another connection held a lock longer than the busy timeout.
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    /// An I/O error (often a full disk reported late, at fsync).
    public var isIOError: Bool { primaryCode == SQLITE_IOERR }
}
