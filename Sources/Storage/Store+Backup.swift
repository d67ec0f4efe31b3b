// Online backups of the Store and the register of backups an operator keeps.
//
// `backupDatabase(to:)` copies the live database through SQLite's online backup API (SQLiteBackup.swift)
// and reports the master key versions the copy needs (every version not retired in it): without them the
// copy cannot be opened. The `backups` table remembers each backup taken until the operator forgets it,
// so `enclave keys rotate` can keep every master version a kept backup still needs.
public import Foundation

/// A backup the operator keeps, as registered when it was taken.
public struct KeptBackup: Sendable, Equatable {
    public var id: String
    public var destination: String
    /// Master key versions needed to open it.
    public var masterVersions: Set<Int>
    public var created: Date

    public init(id: String, destination: String, masterVersions: Set<Int>, created: Date) {
        self.id = id
        self.destination = destination
        self.masterVersions = masterVersions
        self.created = created
    }
}

extension Store {
    /// Copies the database, as of one moment, to the new file `path` (0600) while other connections keep
    /// writing; checks the copy (`integrity_check`) and returns the master versions it needs.
    public func backupDatabase(to path: String) throws -> Set<Int> {
        try mapErrors {
            try db.backup(to: path)
            let copy = try SQLiteConnection(path: path, create: false)
            let check = try copy.integrityCheck()
            guard check == "ok" else { throw StoreError(.corruptDatabase, "the backup copy fails integrity_check") }
            return Set(
                try copy.query("SELECT version FROM master_keys WHERE state <> 'retired'").compactMap { $0[0].int })
        }
    }

    /// Remembers a backup until `forgetBackup` (key rotation keeps the versions it needs).
    public func registerBackup(_ backup: KeptBackup) throws {
        try mapErrors {
            try db.run(
                "INSERT INTO backups (id, destination, master_versions, created) VALUES (?, ?, ?, ?)",
                [
                    backup.id, backup.destination,
                    backup.masterVersions.sorted().map(String.init).joined(separator: ","),
                    backup.created.timeIntervalSince1970,
                ])
        }
    }

    /// Every kept backup, oldest first.
    public func keptBackups() throws -> [KeptBackup] {
        try mapErrors { try db.query("SELECT id, destination, master_versions, created FROM backups ORDER BY created") }
            .map { row in
                KeptBackup(
                    id: row[0].string ?? "", destination: row[1].string ?? "",
                    masterVersions: Set((row[2].string ?? "").split(separator: ",").compactMap { Int($0) }),
                    created: Date(timeIntervalSince1970: row[3].double ?? 0))
            }
    }

    /// Forgets backup `id` (it was destroyed or expired); false when there is none.
    public func forgetBackup(id: String) throws -> Bool {
        try mapErrors { try db.run("DELETE FROM backups WHERE id = ?", [id]) } == 1
    }
}
