// How the CLI turns the master key into the audit keys. The master keys come from the same sources as
// the Store's (`KeyRing.load`: a 0600 file, an environment variable, or a command). The audit keys
// must stay the same for the life of a log, while master keys rotate, so the version the log was
// created under is recorded in `<audit dir>/keyversion` and used from then on; a ring that no longer
// holds that version is a clear error rather than a log that no longer verifies.
import Audit
import EnclaveCrypto
import Foundation
import Storage

enum AuditMasterKey {
    static let versionFileName = "keyversion"

    /// The audit keys for the log in `directory`, derived from the recorded master key version (or, for a
    /// new log, from the latest version, which is then recorded).
    static func keys(from source: KeySource, directory: String) throws -> AuditKeys {
        let ring: KeyRing
        do {
            ring = try KeyRing.load(source)
        } catch {
            throw AuditFailure(message: "audit-key: cannot load the master key: \(error)")
        }
        let versionPath = directory + "/" + versionFileName
        var version = ring.latestVersion
        if let text = try? String(contentsOfFile: versionPath, encoding: .utf8) {
            guard let recorded = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw AuditFailure(message: "audit-key: \(versionPath) does not hold a version number")
            }
            version = recorded
        } else if FileManager.default.fileExists(atPath: directory + "/audit.jsonl")
            || FileManager.default.fileExists(atPath: directory + "/signing.key")
        {
            version = ring.versions.first ?? version
        } else {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try "\(version)\n".write(toFile: versionPath, atomically: true, encoding: .utf8)
        }
        guard let master = try masterKey(ring, version: version) else {
            throw AuditFailure(
                message: "audit-key: the key ring no longer holds master version \(version), under"
                    + " which this audit log was created")
        }
        return try AuditKeys(master: master)
    }

    /// The master key of `version`, read from the ring's key text (the ring exposes no raw key otherwise).
    private static func masterKey(_ ring: KeyRing, version: Int) throws -> SymmetricKey? {
        var text = ring.serialized()
        defer { secureZero(&text) }
        for line in text.split(separator: 0x0A) where line.first != 0x23 {
            let parts = line.split(separator: 0x20)
            guard parts.count == 2, Int(String(decoding: parts[0], as: UTF8.self)) == version else { continue }
            let hex = Array(parts[1])
            guard hex.count == 64 else { return nil }
            var bytes = [UInt8](repeating: 0, count: 32)
            for index in 0..<32 {
                guard let byte = UInt8(String(decoding: hex[2 * index...2 * index + 1], as: UTF8.self), radix: 16)
                else { return nil }
                bytes[index] = byte
            }
            return try SymmetricKey(zeroing: &bytes)
        }
        return nil
    }
}
