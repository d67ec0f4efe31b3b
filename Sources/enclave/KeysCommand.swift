// `enclave keys init|rotate|status`: the master-key lifecycle (DESIGN.md §4).
//
// `init` writes a new key file (mode 0600, never overwriting). `rotate` adds a new master version to
// the key file, re-wraps every data key under it in batches (each batch its own transaction, so a
// killed rotation resumes where it stopped when run again), then retires the old versions and removes
// them from the key file, except versions a kept backup still needs (`enclave backup`), which stay in the
// key file until the backup is forgotten; it says which. `status` shows which versions the database uses.
// No command prints a key.
import ArgumentParser
import Audit
import EnclaveCrypto
import Foundation
import Storage

/// Where the database and the master keys are; shared by every command that opens the Store.
struct StorageOptions: ParsableArguments {
    @Option(help: "The database file (default: $ENCLAVE_DATABASE, else server.database, else <data dir>/enclave.db).")
    var database: String?

    @OptionGroup var masterKey: MasterKeyOptions

    /// Every setting, with this command's `--database`.
    func settings() throws -> Settings {
        var flags = masterKey.flags
        flags.database = database
        return try Settings.resolve(flags)
    }

    /// Loads the key ring and opens the Store, turning storage errors into a clear exit.
    func openStore() throws -> (KeyRing, Store) {
        let settings = try settings()
        let databasePath = settings.database.value
        do {
            let ring = try KeyRing.load(settings.keySource.value)
            let directory = (databasePath as NSString).deletingLastPathComponent
            if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            }
            return (ring, try Store(path: databasePath, keyRing: ring))
        } catch let error as StoreError {
            throw CLIError(error)
        }
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, rotate and inspect the master keys that protect stored conversations.",
        subcommands: [KeysInit.self, KeysRotate.self, KeysStatus.self]
    )
}

struct KeysInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Write a new random 256-bit master key file (mode 0600); never overwrites.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "The key file to create (default: $ENCLAVE_KEY_FILE, else keys.file, else <data dir>/master.key).")
    var keyFile: String?

    func run() throws {
        var flags = options.flags
        flags.keyFile = keyFile
        let settings = try Settings.resolve(flags)
        guard let path = settings.keyFilePath else {
            throw ValidationError("the configuration reads the master keys from a variable or command, not a file")
        }
        // The log beside the new key file, unless the audit directory is configured explicitly.
        let keyDirectory = (path as NSString).deletingLastPathComponent
        let auditDirectory =
            settings.auditDirectory.source == .default
            ? (keyDirectory.isEmpty ? "." : keyDirectory) + "/audit" : settings.auditDirectory.value
        do {
            let ring = try KeyRing(keys: [1: SymmetricKey.random()])
            try OperatorAudit.recordKeyInit(ring: ring, keyFile: path, auditDirectory: auditDirectory)
            try ring.createKeyFile(at: path)
        } catch let error as StoreError {
            throw CLIError(error)
        }
        print("created \(path) (master key version 1, mode 0600); back it up somewhere safe and separate")
    }
}

struct KeysRotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Add a new master key version, re-wrap every data key under it, retire the old version.",
        discussion: "Safe to interrupt: run it again and it resumes. Needs a key file (not --key-env/--key-command). "
            + "A running server picks up the new key version from the key file on its own.")

    @OptionGroup var storage: StorageOptions

    @Option(help: "Data keys re-wrapped per transaction.")
    var batchSize: Int = 100

    func validate() throws {
        guard storage.masterKey.keyEnv == nil, storage.masterKey.keyCommand == nil else {
            throw ValidationError(
                "rotation writes the new key to the key file; for a variable or command, add the new "
                    + "version at the source and run rotate with a key file holding both versions")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() async throws {
        let (ring, store) = try storage.openStore()
        let settings = try storage.settings()
        guard let path = settings.keyFilePath else {
            throw ValidationError("rotation writes the new key to a key file; the configuration names none")
        }
        let auditDirectory = settings.auditDirectory.value
        do {
            let status = try await store.masterKeyStatus()
            let retired = Set(status.filter { $0.state == .retired }.map(\.version))
            let active = status.filter { $0.state == .active }.map(\.version).max() ?? 0
            let pending = status.contains { $0.state == .retiring }
            let backups = try await store.keptBackups()
            ring.keep(Set(backups.flatMap(\.masterVersions)).intersection(ring.versions))
            try OperatorAudit.record(
                AuditAction.keyRotate, subject: "master-key-version=\(active)", ring: ring,
                auditDirectory: auditDirectory)
            let removable = ring.versions.filter { retired.contains($0) && !ring.keptVersions.contains($0) }
            if !removable.isEmpty && !pending && ring.latestVersion == active {
                // A previous rotation finished in the database but stopped before cleaning the key file.
                try AuditKeyRotation.rewrap(ring: ring, auditDirectory: auditDirectory)
                ring.removeVersions(below: active)
                try ring.replaceKeyFile(at: path)
                print("rotation to version \(active) was already complete; removed retired keys from \(path)")
                print(BackupKeys.keptNote(ring: ring, backups: backups, active: active, path: path))
                return
            }
            if ring.latestVersion == active && !pending {
                let version = try ring.addRandomVersion()
                try ring.replaceKeyFile(at: path)
                print("added master key version \(version) to \(path)")
            } else {
                print("resuming rotation to master key version \(ring.latestVersion)")
            }
            try AuditKeyRotation.rewrap(ring: ring, auditDirectory: auditDirectory)
            let report = try await store.rotate(batchSize: batchSize)
            ring.removeVersions(below: report.version)
            try ring.replaceKeyFile(at: path)
            print(
                "rotated to master key version \(report.version): \(report.rewrapped) data keys re-wrapped, "
                    + "retired \(report.retired.isEmpty ? "none" : report.retired.map(String.init).joined(separator: ", "))"
            )
            print(BackupKeys.keptNote(ring: ring, backups: backups, active: report.version, path: path))
        } catch let error as StoreError {
            throw CLIError(error)
        }
    }
}

struct KeysStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the master key versions, their state and how many data keys use each.")

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let (ring, store) = try storage.openStore()
        do {
            print("database \(try storage.settings().database.value)")
            print("key source holds versions \(ring.versions.map(String.init).joined(separator: ", "))")
            for key in try await store.masterKeyStatus() {
                print(
                    "version \(key.version)\t\(key.state.rawValue)\t\(key.conversations) data keys\t"
                        + (key.available ? "key present" : "key absent"))
            }
        } catch let error as StoreError {
            throw CLIError(error)
        }
    }
}
