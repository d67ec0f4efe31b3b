// SQLite's online backup API (`sqlite3_backup_*`) over one connection: a consistent copy of a live
// database while other connections keep writing.
//
// The whole copy is one `sqlite3_backup_step(-1)`, so it reads inside a single read transaction: in WAL
// mode that snapshot never blocks writers (the server keeps committing), and it is never restarted by
// them (a backup copied in slices restarts whenever another connection writes, which under steady chat
// load means never finishing). The destination is a new file, created 0600 before SQLite opens it.
internal import CSQLite

#if canImport(Glibc)
    internal import Glibc
#else
    internal import Darwin
#endif

extension SQLiteConnection {
    /// Copies this database, as of one moment, into a new file at `path` (which must not exist), then
    /// makes the copy self-contained (no WAL beside it) and durable.
    func backup(to path: String) throws {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SQLiteError(
                code: SQLITE_CANTOPEN, message: "cannot create \(path) (it exists, or the directory is not writable)")
        }
        close(fd)
        var destination: OpaquePointer?
        let rc = sqlite3_open_v2(path, &destination, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let destination else {
            sqlite3_close_v2(destination)
            throw SQLiteError(code: rc, message: "cannot open the backup file \(path)")
        }
        defer { sqlite3_close_v2(destination) }
        guard let backup = sqlite3_backup_init(destination, "main", handle, "main") else {
            throw SQLiteError(code: sqlite3_errcode(destination), message: String(cString: sqlite3_errmsg(destination)))
        }
        var step: Int32
        var waits = 0
        repeat {
            step = sqlite3_backup_step(backup, -1)
            // Busy only while another connection holds an exclusive lock (WAL recovery): wait a little.
            if step == SQLITE_BUSY || step == SQLITE_LOCKED {
                waits += 1
                sqlite3_sleep(10)
            }
        } while (step == SQLITE_OK || step == SQLITE_BUSY || step == SQLITE_LOCKED) && waits < 1_000
        let finished = sqlite3_backup_finish(backup)
        guard step == SQLITE_DONE, finished == SQLITE_OK else {
            throw SQLiteError(
                code: step == SQLITE_DONE ? finished : step,
                message: "online backup failed: " + String(cString: sqlite3_errmsg(destination)))
        }
        // The copy carries the source's WAL mode; fold everything into the file itself.
        let checkpoint = sqlite3_wal_checkpoint_v2(destination, nil, SQLITE_CHECKPOINT_TRUNCATE, nil, nil)
        guard checkpoint == SQLITE_OK else {
            throw SQLiteError(code: checkpoint, message: "checkpoint of the backup copy failed")
        }
        let sync = open(path, O_RDONLY | O_CLOEXEC)
        guard sync >= 0, fsync(sync) == 0 else {
            if sync >= 0 { close(sync) }
            throw SQLiteError(code: SQLITE_IOERR, message: "cannot fsync \(path)")
        }
        close(sync)
    }
}
