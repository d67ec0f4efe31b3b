// The SQLite layer: required settings are in force, migrations apply once and in order, errors carry
// code, message and SQL, and files that are not databases are refused.
import Foundation
import Storage
import Testing

@Suite("SQLiteConnection")
struct SQLiteConnectionTests {
    @Test("WAL, synchronous=FULL, secure_delete, temp_store=MEMORY and foreign keys are in force")
    func settings() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try SQLiteConnection(path: dir.file("a.sqlite"))
        #expect(try db.query("PRAGMA journal_mode").first?[0] == .text("wal"))
        #expect(try db.query("PRAGMA synchronous").first?[0] == .integer(2))
        #expect(try db.query("PRAGMA secure_delete").first?[0] == .integer(1))
        #expect(try db.query("PRAGMA temp_store").first?[0] == .integer(2))
        #expect(try db.query("PRAGMA foreign_keys").first?[0] == .integer(1))
    }

    @Test("a new database and its -wal and -shm files are readable by the owner only")
    func ownerOnlyFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("p.sqlite")
        let db = try SQLiteConnection(path: path)
        try db.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
        for file in [path, path + "-wal", path + "-shm"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            let mode = try #require((attributes[.posixPermissions] as? NSNumber)?.intValue)
            #expect(mode & 0o777 == 0o600, "\(file) has mode \(String(mode, radix: 8))")
        }
    }

    @Test("migrations run once, in order, tracked by user_version; a newer schema is refused")
    func migrations() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("m.sqlite")
        let first = [Migration(name: "one", sql: "CREATE TABLE t (x INTEGER);")]
        let both = first + [Migration(name: "two", sql: "ALTER TABLE t ADD COLUMN y TEXT;")]
        do {
            let db = try SQLiteConnection(path: path)
            try db.migrate(first)
            #expect(try db.userVersion() == 1)
            try db.migrate(both)
            try db.migrate(both)
            #expect(try db.userVersion() == 2)
            try db.run("INSERT INTO t (x, y) VALUES (?, ?)", [1, "a"])
        }
        let db = try SQLiteConnection(path: path)
        #expect(try db.query("SELECT x, y FROM t").first?.values == [.integer(1), .text("a")])
        #expect(throws: SQLiteError.self) { try db.migrate(first) }
        let broken = both + [Migration(name: "three-broken", sql: "CREATE TABLE t (z);")]
        let error = #expect(throws: SQLiteError.self) { try db.migrate(broken) }
        #expect(error?.message.contains("three-broken") == true)
        #expect(try db.userVersion() == 2)
    }

    @Test("typed binding round-trips every storage class; errors name the SQL; transactions roll back")
    func bindingAndErrors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = try SQLiteConnection(path: dir.file("b.sqlite"))
        try db.execute("CREATE TABLE v (a, b, c, d, e)")
        let values: [SQLiteValue] = [.null, .integer(-7), .real(2.5), .text("héllo"), .blob([0, 1, 255])]
        try db.run("INSERT INTO v VALUES (?, ?, ?, ?, ?)", values)
        #expect(try db.query("SELECT * FROM v").first?.values == values)
        let error = #expect(throws: SQLiteError.self) { try db.query("SELECT nope FROM v") }
        #expect(error?.sql == "SELECT nope FROM v")
        #expect(error?.message.contains("nope") == true)
        #expect(throws: SQLiteError.self) {
            try db.transaction {
                try db.run("INSERT INTO v VALUES (1, 2, 3, 4, 5)")
                try db.run("INSERT INTO missing VALUES (1)")
            }
        }
        #expect(try db.query("SELECT COUNT(*) FROM v").first?[0] == .integer(1))
    }

    @Test("a file that is not a database is refused with a corrupt/not-a-database error")
    func notADatabase() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("junk.sqlite")
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: SQLiteError.self) { try SQLiteConnection(path: path) }
        #expect(error?.isCorrupt == true)
    }
}
