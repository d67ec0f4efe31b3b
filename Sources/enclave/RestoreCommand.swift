// `enclave restore SRC DATA_DIR`: a backup (BackupCommand.swift) into a new data directory. Nothing is
// trusted before it is checked: the manifest must be of this format and list exactly the backup's files,
// every file must have the size and SHA-256 the manifest gives, and DATA_DIR must not exist or be empty.
// Then, with the master key given (--key-file, --key-env, --key-command, or the configured source), the
// manifest's HMAC must verify (a forgery with updated hashes needs the key), the database must accept the
// key (its key check values), pass `integrity_check` and open as a Store (an older schema is migrated),
// the audit root key must open and the copied log must verify. Any failure
// removes what was restored. A key file is copied into DATA_DIR/master.key (0600), so `enclave serve
// --data-dir DATA_DIR` runs on the result; the restore is recorded in the restored audit log.
import ArgumentParser
import Audit
import EnclaveCrypto
import Foundation
import Storage

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Restore a backup into a new, empty data directory.",
        discussion: "Give the master key the backup needs (`enclave backup --list` names the versions).")

    @Argument(help: "The backup directory (with manifest.json).") var source: String
    @Argument(help: "The data directory to create (must not exist, or be empty).") var dataDirectory: String
    @OptionGroup var masterKey: MasterKeyOptions

    func run() async throws {
        let manifest = try BackupRestorer.readManifest(source)
        try BackupWriter.prepareEmptyDirectory(dataDirectory)
        do {
            let ring = try KeyRing.load(try masterKey.settings().keySource.value)
            let restored = try await BackupRestorer(source: source, target: dataDirectory, manifest: manifest).restore(
                ring: ring)
            print(
                "restored backup \(manifest.id) (taken \(manifest.created)) into \(dataDirectory): "
                    + "\(restored.conversations) conversation(s), audit log verified (\(restored.records) records)")
            if case .file = ring.source {
                print("copied the master key file to \(ServerAssembly.masterKeyPath(dataDirectory)) (mode 0600)")
            } else {
                print("the master keys stay at their source (variable or command): configure it for \(dataDirectory)")
            }
        } catch {
            // Leave the directory as it was found: empty.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dataDirectory)) ?? [] {
                try? FileManager.default.removeItem(atPath: dataDirectory + "/" + name)
            }
            if let error = error as? StoreError { throw CLIError(error) }
            throw error
        }
    }
}

/// Checks and copies one backup.
struct BackupRestorer {
    let source: String
    let target: String
    let manifest: BackupManifest

    /// The manifest of the backup in `directory`, with every file checked against it.
    static func readManifest(_ directory: String) throws -> BackupManifest {
        let path = directory + "/" + BackupManifest.fileName
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("\(path) is missing: not a complete backup")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let manifest = try? decoder.decode(BackupManifest.self, from: data),
            manifest.format == BackupManifest.formatName
        else { throw CLIError("\(path) is not an Enclave backup manifest (\(BackupManifest.formatName))") }
        let listed = Set(manifest.files.map(\.path))
        guard manifest.files.count == listed.count, listed.isSubset(of: BackupManifest.expectedFiles),
            Set(BackupManifest.expectedFiles).subtracting(listed).isSubset(of: BackupManifest.laterFiles)
        else {
            throw CLIError("\(path) lists other files than a backup holds; refusing it")
        }
        for file in manifest.files {
            let actual = try? BackupManifest.describe(file.path, in: directory)
            guard let actual, actual == file else {
                throw CLIError(
                    "\(directory)/\(file.path) does not match the manifest (missing, truncated or changed); "
                        + "nothing was restored")
            }
        }
        return manifest
    }

    /// Copies the files (0600 in 0700 directories), then opens and verifies them with `ring`.
    func restore(ring: KeyRing) async throws -> (conversations: Int, records: UInt64) {
        let missing = manifest.masterVersions.filter { !ring.versions.contains($0) }
        guard missing.isEmpty else {
            throw StoreError(
                .missingMasterKey,
                "the backup needs master key version(s) \(missing.map(String.init).joined(separator: ", ")), "
                    + "which the key source does not hold")
        }
        guard try manifest.isAuthentic(ring: ring) else {
            throw CLIError(
                "the manifest of \(source) does not authenticate under this master key: a wrong key, or the backup "
                    + "was altered; nothing was restored")
        }
        try FileManager.default.createDirectory(
            atPath: target + "/audit", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for file in manifest.files {
            try FileManager.default.copyItem(atPath: source + "/" + file.path, toPath: target + "/" + file.path)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: target + "/" + file.path)
        }
        let store = try Store(path: target + "/enclave.db", keyRing: ring)
        guard try await store.integrityCheck() == "ok" else {
            throw StoreError(.corruptDatabase, "the restored database fails integrity_check")
        }
        let conversations = try await store.masterKeyStatus().reduce(0) { $0 + $1.conversations }
        let secrets = try AuditMasterKey.secrets(ring: ring, directory: target + "/audit")
        let report = try AuditVerifier.verify(
            directory: target + "/audit", macKey: secrets.mac, publicKey: secrets.signer.publicKey)
        guard report.isValid else {
            throw CLIError("the backup's audit log does not verify: \(report.failure.map { "\($0)" } ?? "")")
        }
        if case .file = ring.source {
            try ring.createKeyFile(at: ServerAssembly.masterKeyPath(target))
        }
        try OperatorAudit.record(
            AuditAction.backupRestore, subject: manifest.id, detail: "source=\(source)", ring: ring,
            auditDirectory: target + "/audit")
        return (conversations, report.recordsVerified)
    }
}
