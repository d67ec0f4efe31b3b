// How the CLI and the server reach the audit keys from the master keys. The master keys come from the
// same sources as the Store's (`KeyRing.load`: a 0600 file, an environment variable, or a command).
// The audit keys derive from the audit root key (`AuditRootKey`), which is sealed under one master-key
// version in `<audit dir>/root.key` and re-wrapped by `enclave keys rotate`, so rotating the master key
// never orphans a log. A ring without that version, or a wrong key, is a clear `audit-key` error.
import Audit
import EnclaveCrypto
import Foundation
import Storage

enum AuditMasterKey {
    /// The audit keys for the log in `directory`, loading the ring from `source`.
    static func secrets(from source: KeySource, directory: String) throws -> AuditSecrets {
        let ring: KeyRing
        do {
            ring = try KeyRing.load(source)
        } catch {
            throw CLIError("audit-key: cannot load the master key: \(error)")
        }
        return try secrets(ring: ring, directory: directory)
    }

    /// The audit keys for the log in `directory`: the root key is opened, or created under the ring's
    /// latest version when the directory holds no log yet.
    static func secrets(ring: KeyRing, directory: String) throws -> AuditSecrets {
        do {
            return try AuditRootKey.loadOrCreate(
                directory: directory, masterKeys: try masterKeys(ring), latestVersion: ring.latestVersion)
        } catch let error as AuditError {
            throw CLIError(error.description)
        }
    }

    /// Every master key of the ring by version, read from its key text (the ring exposes no raw key otherwise).
    static func masterKeys(_ ring: KeyRing) throws -> [Int: SymmetricKey] {
        var text = ring.serialized()
        defer { secureZero(&text) }
        var keys: [Int: SymmetricKey] = [:]
        for line in text.split(separator: 0x0A) where line.first != 0x23 {
            let parts = line.split(separator: 0x20)
            guard parts.count == 2, let version = Int(String(decoding: parts[0], as: UTF8.self)) else { continue }
            let hex = Array(parts[1])
            guard hex.count == 64 else { continue }
            var bytes = [UInt8](repeating: 0, count: 32)
            var valid = true
            for index in 0..<32 {
                guard let byte = UInt8(String(decoding: hex[2 * index...2 * index + 1], as: UTF8.self), radix: 16)
                else {
                    valid = false
                    break
                }
                bytes[index] = byte
            }
            if valid { keys[version] = try SymmetricKey(zeroing: &bytes) } else { secureZero(&bytes) }
        }
        return keys
    }
}
