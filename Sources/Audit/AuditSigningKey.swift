public import EnclaveCrypto
// The checkpoint key's public half as `enclave audit pubkey` writes it and `verify --pubkey` reads it,
// and a stand-alone sealed signing key file: a random Ed25519 key kept in `<dir>/signing.key` (mode
// 0600), sealed with AES-256-GCM under a key derived from a master key (`AuditKeys`). The server no
// longer uses the stand-alone file (its keys derive from the audit root key, `AuditRootKey`, which
// survives master-key rotation); tests and tools that need a throw-away log without a key ring still
// do. The file is one text line, `enclave-audit-signing-key-v1 <hex of nonce|ciphertext|tag>`; the AAD
// names the format so the sealed blob cannot be swapped in for another kind of key.
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Loading, creating and exporting the checkpoint signing key.
public enum AuditSigningKey {
    static let fileName = "signing.key"
    static let header = "enclave-audit-signing-key-v1"
    static let aad = Array("enclave/audit/signing.key/v1".utf8)

    /// Loads `<directory>/signing.key`, or creates it (and the directory) if it does not exist.
    /// Throws `AuditError.key` when the file cannot be opened with `sealingKey` (wrong master key).
    public static func loadOrCreate(directory: String, sealingKey: SymmetricKey) throws -> Ed25519PrivateKey {
        try AuditLog.makeDirectory(directory)
        let path = directory + "/" + fileName
        if FileManager.default.fileExists(atPath: path) { return try load(path: path, sealingKey: sealingKey) }
        let key = try Ed25519PrivateKey()
        var raw = key.rawRepresentation
        defer { secureZero(&raw) }
        let sealed = try AESGCM.seal(raw, key: sealingKey, aad: aad).combined
        let text = Array("\(header) \(sealed.hexString)\n".utf8)
        let temporary = path + ".tmp"
        unlink(temporary)
        do {
            let file = try AppendOnlyFile(path: temporary, mode: 0o600)
            try file.append(text, sync: true)
        }
        guard rename(temporary, path) == 0 else {
            throw AuditError.io(operation: "rename", path: path, reason: errnoText())
        }
        try syncDirectory(directory)
        return key
    }

    /// Loads an existing sealed key file.
    public static func load(path: String, sealingKey: SymmetricKey) throws -> Ed25519PrivateKey {
        let text = String(decoding: try readWholeFile(path), as: UTF8.self)
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 2, parts[0] == header, let sealed = decodeHexAny(String(parts[1])) else {
            throw AuditError.key("\(path) is not an Enclave audit signing key")
        }
        var raw: [UInt8]
        do {
            raw = try AESGCM.open(try SealedBox(combined: sealed), key: sealingKey, aad: aad)
        } catch {
            throw AuditError.key("cannot open \(path): wrong master key or damaged file")
        }
        defer { secureZero(&raw) }
        return try Ed25519PrivateKey(rawRepresentation: raw)
    }

    /// The public key as one line of lower-case hex (the format `audit pubkey` prints and `--pubkey` reads).
    public static func exportPublicKey(_ key: Ed25519PrivateKey) -> String {
        key.publicKey.rawRepresentation.hexString
    }

    /// Reads a public key file written by `exportPublicKey` (64 hex digits, surrounding space ignored).
    public static func importPublicKey(text: String) throws -> Ed25519PublicKey {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let raw = decodeHex(trimmed, count: 32) else {
            throw AuditError.key("a public key is 64 lower-case hex digits")
        }
        do { return try Ed25519PublicKey(rawRepresentation: raw) } catch {
            throw AuditError.key("not a valid Ed25519 public key")
        }
    }

    private static func decodeHexAny(_ text: String) -> [UInt8]? {
        guard text.utf8.count % 2 == 0 else { return nil }
        return decodeHex(text, count: text.utf8.count / 2)
    }
}

/// Keys derived directly from one master key, for a stand-alone `signing.key` log (see the file comment).
public struct AuditKeys: Sendable {
    /// Keys the per-record HMAC (and, through HKDF, the pseudonyms of sensitive identifiers).
    public let mac: SymmetricKey
    /// Seals the Ed25519 signing key at rest.
    public let signingSeal: SymmetricKey

    public static let macInfo = "enclave/audit/mac/v1"
    public static let signingSealInfo = "enclave/audit/signing-seal/v1"

    /// Derives both keys from the master key with HKDF-SHA256 (empty salt, the info strings above).
    public init(master: SymmetricKey) throws {
        mac = try HKDFSHA256.deriveKey(from: master, salt: [], info: Array(Self.macInfo.utf8))
        signingSeal = try HKDFSHA256.deriveKey(from: master, salt: [], info: Array(Self.signingSealInfo.utf8))
    }
}
