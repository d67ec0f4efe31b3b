// `enclave backup DEST`: an online backup while `enclave serve` keeps serving. Into a new directory DEST
// (0700) it writes the database through SQLite's online backup API (one consistent snapshot; writers are
// never blocked), records `backup.create` in the audit log with a signed checkpoint, copies the audit
// log up to its latest checkpoint and the sealed audit root key, and last writes `manifest.json` with the
// size and SHA-256 of every file (its presence marks a complete backup). The master key is not in the
// backup: keep it separately. The backup is registered in the database so `keys rotate` keeps every
// master key version it needs (`--list` shows them, `--forget ID` releases them). `enclave restore` is
// RestoreCommand.swift.
import ArgumentParser
import Audit
import EnclaveCrypto
import Foundation
import Storage

#if canImport(Glibc)
    import Glibc
#endif

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Back up the database and audit log while the server runs.",
        discussion: "DEST must not exist or be empty. The master key is not copied: back it up separately.")

    @Argument(help: "The new backup directory.") var destination: String?
    @Flag(help: "List the kept backups and the master key versions each needs.") var list = false
    @Option(help: "Forget a kept backup (destroyed or expired): `keys rotate` may then drop the keys only it needed.")
    var forget: String?
    @OptionGroup var masterKey: MasterKeyOptions

    func validate() throws {
        guard [destination != nil, list, forget != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give a destination directory, --list, or --forget ID")
        }
    }

    func run() async throws {
        let settings = try masterKey.settings()
        guard FileManager.default.fileExists(atPath: settings.database.value) else {
            throw CLIError("there is no database at \(settings.database.value) to back up")
        }
        let ring = try KeyRing.load(settings.keySource.value)
        let store: Store
        do {
            store = try Store(path: settings.database.value, keyRing: ring)
        } catch let error as StoreError {
            throw CLIError(error)
        }
        if list {
            for backup in try await store.keptBackups() {
                print(
                    [
                        backup.id, ISO8601DateFormatter().string(from: backup.created), backup.destination,
                        "master key versions " + backup.masterVersions.sorted().map(String.init).joined(separator: ","),
                    ]
                    .joined(separator: "\t"))
            }
            return
        }
        if let forget {
            guard try await store.forgetBackup(id: forget) else { throw ValidationError("no kept backup \(forget)") }
            print("forgot backup \(forget); `enclave keys rotate` may now drop master key versions only it needed")
            return
        }
        guard let destination else { return }
        // A backup is background work: on a machine the server shares, its CPU time (copying, hashing,
        // the copy's integrity check) goes to chat requests first.
        #if canImport(Glibc)
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        #endif
        let manifest = try await BackupWriter(
            destination: destination, auditDirectory: settings.auditDirectory.value, ring: ring, store: store
        ).write()
        print(
            "backup \(manifest.id) written to \(destination): database, audit log to record \(manifest.auditRecords), "
                + "audit root key, manifest.json")
        let versions = manifest.masterVersions.sorted().map(String.init).joined(separator: ", ")
        print(
            "it needs master key version(s) \(versions); "
                + "`keys rotate` keeps them until `enclave backup --forget \(manifest.id)`")
    }
}

/// Takes one backup into a new directory.
struct BackupWriter {
    let destination: String
    let auditDirectory: String
    let ring: KeyRing
    let store: Store

    func write() async throws -> BackupManifest {
        try Self.prepareEmptyDirectory(destination)
        let id = try SecureRandom.bytes(8).hexString
        var versions: Set<Int>
        do {
            versions = try await store.backupDatabase(to: destination + "/enclave.db")
        } catch let error as StoreError {
            throw CLIError(error)
        }
        // The record comes with a signed checkpoint, so the copy below reaches at least this far.
        try OperatorAudit.record(
            AuditAction.backupCreate, subject: id, detail: "destination=\(destination)", ring: ring,
            auditDirectory: auditDirectory)
        let records: UInt64
        do {
            records = try AuditBackup.copy(from: auditDirectory, to: destination + "/audit")
            if let rootVersion = try AuditRootKey.sealedVersion(directory: destination + "/audit") {
                versions.insert(rootVersion)
            }
        } catch let error as AuditError {
            throw CLIError(error.description)
        }
        let schema = try SQLiteConnection(path: destination + "/enclave.db", create: false).userVersion()
        let manifest = try BackupManifest(
            id: id, created: ISO8601DateFormatter().string(from: Date()), enclaveVersion: EnclaveVersion.current,
            schemaVersion: schema, masterVersions: versions.sorted(), auditRecords: records,
            files: try BackupManifest.expectedFiles.map { try BackupManifest.describe($0, in: destination) }
        ).authenticated(ring: ring)
        let path = destination + "/" + BackupManifest.fileName
        guard
            FileManager.default.createFile(
                atPath: path, contents: try manifest.encoded(pretty: true), attributes: [.posixPermissions: 0o600])
        else { throw CLIError("cannot write \(path)") }
        try await store.registerBackup(
            KeptBackup(id: id, destination: destination, masterVersions: versions, created: Date()))
        return manifest
    }

    /// Creates `path` (0700), or accepts an existing empty directory; refuses anything else.
    static func prepareEmptyDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, (try FileManager.default.contentsOfDirectory(atPath: path)).isEmpty else {
                throw CLIError("\(path) exists and is not an empty directory; nothing was written")
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
            return
        }
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
}

/// What `keys rotate` says about the master key versions kept for backups.
enum BackupKeys {
    static func keptNote(ring: KeyRing, backups: [KeptBackup], active: Int, path: String) -> String {
        let kept = ring.keptVersions.subtracting([active]).intersection(ring.versions).sorted()
        guard !kept.isEmpty else {
            // A copy of the data directory made without `enclave backup` is not in the register: say how
            // to keep it restorable.
            let other =
                "; a copy of the database made another way needs the key file as it was before this rotation: "
                + "keep that file with the copy"
            return backups.isEmpty
                ? "no backup made with `enclave backup` needs an older master key version" + other
                : "the \(backups.count) kept backup(s) need no master key version but \(active)" + other
        }
        let needing = backups.filter { !$0.masterVersions.isDisjoint(with: kept) }.map(\.id)
        return "kept master key version(s) \(kept.map(String.init).joined(separator: ", ")) in \(path): "
            + "kept backup(s) \(needing.joined(separator: ", ")) need them to be restored. "
            + "When a backup is destroyed, run `enclave backup --forget ID`; the next `keys rotate` then drops them"
    }
}
