// The one place SQLite result codes become Swift errors. Storage's callers never see one: the Store maps each
// to a `StoreError` (mapErrors), the module's one public error type; only this package's SQLite wrapper users
// (the store benchmark's baseline, the wrapper's tests) meet it.
//
// Every call into libsqlite3 whose result matters goes through `SQLiteConnection.check`, which reads
// `sqlite3_errmsg` while the connection is still in the failing state and throws a `SQLiteError`
// carrying the primary and extended code, SQLite's message and the statement (never bound values).
internal import CSQLite

/// A failed SQLite call: result code, SQLite's message and the SQL text it was running, if any.
package struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The extended result code (`code & 0xff` is the primary code).
    package let code: Int32
    package let message: String
    package let sql: String?

    package init(code: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// The primary result code (SQLITE_BUSY, SQLITE_FULL, ...).
    package var primaryCode: Int32 { code & 0xff }

    package var description: String {
        "SQLite error \(code): \(message)" + (sql.map { " (in \($0.prefix(120)))" } ?? "")
    }

    /// The database or disk is full.
    package var isDiskFull: Bool { primaryCode == SQLITE_FULL }
    /// The file is not a database or is corrupt.
    package var isCorrupt: Bool { primaryCode == SQLITE_CORRUPT || primaryCode == SQLITE_NOTADB }
    /// A write was attempted on a read-only database or directory.
    package var isReadOnly: Bool { primaryCode == SQLITE_READONLY || primaryCode == SQLITE_CANTOPEN }
    /// Another connection held a lock longer than the busy timeout.
    package var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    /// An I/O error (often a full disk reported late, at fsync).
    package var isIOError: Bool { primaryCode == SQLITE_IOERR }
}
