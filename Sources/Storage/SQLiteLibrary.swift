// Facts about the linked SQLite library.
internal import CSQLite

public enum SQLiteLibrary {
    /// The version of the libsqlite3 actually loaded, e.g. "3.40.1".
    public static var version: String { String(cString: sqlite3_libversion()) }
}
