public import EnclaveCrypto
// The audit root key: a random 256-bit key that outlives master-key rotation. The record MAC key and
// the Ed25519 checkpoint key are derived from it (HKDF-SHA256, distinct infos), so they stay the same
// for the life of a log and its public key never changes. The root key itself is kept in
// `<dir>/root.key` (mode 0600), sealed with AES-256-GCM under a wrap key derived from one master-key
// version; the AAD names the purpose and that version, so the blob cannot be passed off as another
// key or as sealed under another version. `enclave keys rotate` re-wraps it under the new version
// before the old one is retired. File format, one line:
// `enclave-audit-root-key-v1 <master version> <hex of nonce|ciphertext|tag>`.
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The keys a log is written and verified with, all derived from the audit root key.
public struct AuditSecrets: Sendable {
    /// Keys the per-record HMAC (and, through HKDF, the pseudonyms of sensitive identifiers).
    public let mac: SymmetricKey
    /// Signs checkpoints; its public key is what `enclave audit pubkey` exports.
    public let signer: Ed25519PrivateKey

    public static let macInfo = "enclave/audit/root/mac/v1"
    public static let signingInfo = "enclave/audit/root/ed25519-seed/v1"

    /// Derives both keys from `root` with HKDF-SHA256 (empty salt, the info strings above).
    public init(root: SymmetricKey) throws {
        mac = try HKDFSHA256.deriveKey(from: root, salt: [], info: Array(Self.macInfo.utf8))
        var seed = try HKDFSHA256.deriveKey(from: root, salt: [], info: Array(Self.signingInfo.utf8)).copyBytes()
        defer { secureZero(&seed) }
        signer = try Ed25519PrivateKey(rawRepresentation: seed)
    }
}

/// Creating, opening and re-wrapping `<dir>/root.key`.
public enum AuditRootKey {
    public static let fileName = "root.key"
    static let header = "enclave-audit-root-key-v1"
    static let wrapInfo = "enclave/audit/root-wrap/v1"

    /// The AAD of a root key sealed under master `version`.
    static func aad(version: Int) -> [UInt8] { Array("enclave/audit/root.key/v1 master-version=\(version)".utf8) }

    /// The master-key version the root key in `directory` is sealed under, or nil if there is no root key.
    public static func sealedVersion(directory: String) throws -> Int? {
        try read(directory: directory)?.version
    }

    /// Opens the root key in `directory` with the master key of the version it is sealed under, or, when
    /// the directory holds no log yet, creates one sealed under `latestVersion`. Returns the derived keys.
    /// - Parameter masterKeys: the master keys by version (the key ring).
    /// - Throws: `AuditError.key` for a missing version, a wrong master key, or a log from before root keys.
    public static func loadOrCreate(
        directory: String, masterKeys: [Int: SymmetricKey], latestVersion: Int
    ) throws -> AuditSecrets {
        if try read(directory: directory) != nil { return try load(directory: directory, masterKeys: masterKeys) }
        let legacy = ["signing.key", AuditLog.logFileName].filter {
            FileManager.default.fileExists(atPath: directory + "/" + $0)
        }
        guard legacy.isEmpty else {
            throw AuditError.key(
                "\(directory) holds an audit log (\(legacy.joined(separator: ", "))) but no \(fileName); it was made"
                    + " before audit root keys: keep it for its retention period and start a new audit directory")
        }
        guard let master = masterKeys[latestVersion] else {
            throw AuditError.key("the master key ring holds no version \(latestVersion)")
        }
        try AuditLog.makeDirectory(directory)
        let root = try SymmetricKey.random()
        try write(directory: directory, root: root, version: latestVersion, master: master)
        return try AuditSecrets(root: root)
    }

    /// Opens the existing root key in `directory`; see `loadOrCreate`.
    public static func load(directory: String, masterKeys: [Int: SymmetricKey]) throws -> AuditSecrets {
        try AuditSecrets(root: try open(directory: directory, masterKeys: masterKeys).root)
    }

    /// Re-seals the root key under master `version` (atomically: a new file renamed over the old one).
    /// Returns false, changing nothing, when the directory has no root key or it is already under `version`.
    /// The root key, and so every derived key and the public key, is unchanged.
    @discardableResult
    public static func rewrap(directory: String, masterKeys: [Int: SymmetricKey], to version: Int) throws -> Bool {
        guard let sealed = try read(directory: directory), sealed.version != version else { return false }
        guard let master = masterKeys[version] else {
            throw AuditError.key("the master key ring holds no version \(version) to re-wrap the audit root key under")
        }
        let root = try open(directory: directory, masterKeys: masterKeys).root
        try write(directory: directory, root: root, version: version, master: master)
        return true
    }

    // MARK: - Internals

    private static func open(directory: String, masterKeys: [Int: SymmetricKey]) throws -> (
        root: SymmetricKey, version: Int
    ) {
        let path = directory + "/" + fileName
        guard let sealed = try read(directory: directory) else { throw AuditError.key("no audit root key at \(path)") }
        guard let master = masterKeys[sealed.version] else {
            throw AuditError.key(
                "\(path) is sealed under master key version \(sealed.version), which the key ring does not hold"
                    + " (it holds \(masterKeys.keys.sorted().map(String.init).joined(separator: ", ")))")
        }
        var raw: [UInt8]
        do {
            let wrap = try HKDFSHA256.deriveKey(from: master, salt: [], info: Array(wrapInfo.utf8))
            raw = try AESGCM.open(try SealedBox(combined: sealed.box), key: wrap, aad: aad(version: sealed.version))
        } catch {
            throw AuditError.key(
                "cannot open \(path) with master key version \(sealed.version): wrong master key or damaged file")
        }
        guard raw.count == 32 else { throw AuditError.key("\(path) does not hold a 256-bit key") }
        return (try SymmetricKey(zeroing: &raw), sealed.version)
    }

    private static func read(directory: String) throws -> (version: Int, box: [UInt8])? {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text = String(decoding: try readWholeFile(path), as: UTF8.self)
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        let hex = parts.count == 3 ? String(parts[2]) : ""
        guard parts.count == 3, parts[0] == header, let version = Int(parts[1]), version > 0,
            hex.utf8.count % 2 == 0, let box = decodeHex(hex, count: hex.utf8.count / 2)
        else { throw AuditError.key("\(path) is not an Enclave audit root key file") }
        return (version, box)
    }

    private static func write(directory: String, root: SymmetricKey, version: Int, master: SymmetricKey) throws {
        let path = directory + "/" + fileName
        let wrap = try HKDFSHA256.deriveKey(from: master, salt: [], info: Array(wrapInfo.utf8))
        var raw = root.copyBytes()
        defer { secureZero(&raw) }
        let sealed = try AESGCM.seal(raw, key: wrap, aad: aad(version: version)).combined
        let temporary = path + ".tmp"
        unlink(temporary)
        do {
            let file = try AppendOnlyFile(path: temporary, mode: 0o600)
            try file.append(Array("\(header) \(version) \(sealed.hexString)\n".utf8), sync: true)
        }
        guard rename(temporary, path) == 0 else {
            throw AuditError.io(operation: "rename", path: path, reason: errnoText())
        }
        try syncDirectory(directory)
    }
}
