// `manifest.json` of a backup (BackupCommand.swift): what the backup holds, each file's size and
// SHA-256, and an HMAC over all of it under a key derived from a master key version the backup needs.
// The hashes catch a damaged copy; the MAC catches a consistent forgery (a file swapped and its hash
// updated, an older database under a newer manifest), which needs the master key to make.
import Audit
import EnclaveCrypto
import Foundation
import Storage

/// What `manifest.json` records.
struct BackupManifest: Codable, Equatable {
    struct File: Codable, Equatable {
        var path: String
        var bytes: Int
        var sha256: String
    }

    static let formatName = "enclave-backup-v1"
    static let fileName = "manifest.json"
    /// The files a backup holds, relative to its directory (nothing else is ever read from one).
    static let expectedFiles = [
        "enclave.db", "audit/" + AuditLog.logFileName, "audit/" + AuditLog.checkpointFileName,
        "audit/" + AuditRootKey.fileName, "audit/" + AuditPruneMark.fileName,
    ]
    /// Files a backup made before they existed may lack (a backup of a log never pruned needs no marks).
    static let laterFiles: Set<String> = ["audit/" + AuditPruneMark.fileName]

    var format = formatName
    var id: String
    var created: String
    var enclaveVersion: String
    var schemaVersion: Int
    var masterVersions: [Int]
    var auditRecords: UInt64
    var files: [File]
    /// The master key version `mac` is keyed from (one the backup needs, so rotation keeps it).
    var macVersion: Int?
    /// HMAC-SHA256, under a key derived from that master key, of the manifest without `mac`.
    var mac: String?

    /// The size and SHA-256 of `relative` inside `directory`.
    static func describe(_ relative: String, in directory: String) throws -> File {
        let path = directory + "/" + relative
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return File(path: relative, bytes: size, sha256: try SHA256.hash(fileAtPath: path).hexString)
    }

    /// The manifest as JSON: sorted keys and snake_case, so the same manifest always gives the same bytes.
    func encoded(pretty: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(self)
    }

    /// This manifest with `mac` set, keyed from the newest master version the backup needs.
    func authenticated(ring: KeyRing) throws -> BackupManifest {
        var manifest = self
        manifest.macVersion = masterVersions.max()
        manifest.mac = nil
        manifest.mac = try manifest.expectedMAC(ring: ring)
        return manifest
    }

    /// Whether `mac` is this manifest's under the ring's key (false for a wrong key or any change).
    func isAuthentic(ring: KeyRing) throws -> Bool {
        guard let mac else { return false }
        var unsigned = self
        unsigned.mac = nil
        return constantTimeEquals(Array(try unsigned.expectedMAC(ring: ring).utf8), Array(mac.utf8))
    }

    private func expectedMAC(ring: KeyRing) throws -> String {
        guard let version = macVersion, let master = try AuditMasterKey.masterKeys(ring)[version] else {
            throw StoreError(
                .missingMasterKey, "the manifest is keyed from master key version \(macVersion ?? 0), not in the ring")
        }
        let key = try HKDFSHA256.deriveKey(from: master, salt: [], info: Array("enclave/backup-manifest/v1".utf8))
        return try HMACSHA256.authenticate(Array(try encoded()), key: key).hexString
    }
}
