// Opens the real parts behind a chat server from a data directory: the master key (created 0600 on
// first run), the sealed Store, the audit log (keys derived from the master key), the policies, and
// a model gateway. Shared by `enclave serve`, `enclave users` and `enclave bench server`.
import Audit
import ChatCore
import EnclaveCrypto
import Foundation
import Logging
import Storage

/// The opened back ends of one data directory.
struct ServerAssembly {
    let dataDirectory: String
    let store: Store
    let audit: AuditLog
    let policy: PolicyDirectoryGate
    let gateway: any ModelGateway
    /// Writes the audit log's time-based checkpoints, so a quiet log is anchored too; cancelled by `close`.
    let checkpointTimer: Task<Void, Never>?

    static func masterKeyPath(_ dataDirectory: String) -> String { dataDirectory + "/master.key" }

    /// Opens (creating on first run) the data directory's key, store and audit log.
    static func open(
        dataDirectory: String, policies: String, gateway: any ModelGateway,
        audit auditConfiguration: AuditLog.Configuration = AuditLog.Configuration()
    ) async throws -> ServerAssembly {
        let keys = try openKeys(dataDirectory: dataDirectory)
        let store = try Store(path: dataDirectory + "/enclave.db", keyRing: keys.ring)
        let auditDirectory = dataDirectory + "/audit"
        let secrets = try AuditMasterKey.secrets(ring: keys.ring, directory: auditDirectory)
        let audit = try await AuditLog(
            directory: auditDirectory, macKey: secrets.mac, signer: secrets.signer, configuration: auditConfiguration)
        let timer = Task { _ = try? await audit.run() }
        return ServerAssembly(
            dataDirectory: dataDirectory, store: store, audit: audit, policy: PolicyDirectoryGate(directory: policies),
            gateway: gateway, checkpointTimer: timer)
    }

    /// Opens only the store (for `enclave users`), creating the data directory and key if needed.
    static func openStore(dataDirectory: String) throws -> Store {
        let keys = try openKeys(dataDirectory: dataDirectory)
        return try Store(path: dataDirectory + "/enclave.db", keyRing: keys.ring)
    }

    /// The key ring from `<data>/master.key`, and the latest master key for deriving the audit keys.
    private static func openKeys(dataDirectory: String) throws -> (ring: KeyRing, master: SymmetricKey) {
        try createDirectory(dataDirectory)
        let path = masterKeyPath(dataDirectory)
        if !FileManager.default.fileExists(atPath: path) {
            try KeyRing(keys: [1: SymmetricKey.random()]).createKeyFile(at: path)
        }
        let ring = try KeyRing.load(.file(path))
        return (ring, try latestMasterKey(ring))
    }

    /// The ring's latest master key, read back from its serialized form (`<version> <hex>` lines).
    private static func latestMasterKey(_ ring: KeyRing) throws -> SymmetricKey {
        var text = ring.serialized()
        defer { secureZero(&text) }
        let prefix = Array("\(ring.latestVersion) ".utf8)
        for line in text.split(separator: 0x0A) where line.starts(with: prefix) {
            var bytes = [UInt8]()
            var hex = Array(line.dropFirst(prefix.count))
            defer {
                secureZero(&hex)
                secureZero(&bytes)
            }
            var index = 0
            while index + 1 < hex.count {
                guard let high = hexValue(hex[index]), let low = hexValue(hex[index + 1]) else { break }
                bytes.append(high << 4 | low)
                index += 2
            }
            return try SymmetricKey(zeroing: &bytes)
        }
        throw ValidationErrorText("the master key file holds no key of version \(ring.latestVersion)")
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }

    /// Creates the data directory with mode 0700 (and refuses one others can read).
    private static func createDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ValidationErrorText("\(path) is not a directory") }
            return
        }
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// The ChatCore over these back ends; integrity failures become `storage.integrity` lines in `logger`.
    func core(configuration: ChatCore.Configuration, logger: Logger? = nil) throws -> ChatCore {
        let adapter = StoreAdapter(store: store)
        let integrity = IntegrityEvents { event in
            logger?.error(
                "storage.integrity",
                metadata: [
                    "integrity.subject": "\(event.subject)", "integrity.row": "\(event.detail)",
                    "user.role": "\(event.role)", "integrity.count": "\(event.count)",
                ])
        }
        return ChatCore(
            accounts: adapter, passwords: try ScryptPasswords(), conversations: adapter, policy: policy,
            gateway: gateway, audit: AuditAdapter(log: audit), configuration: configuration, integrity: integrity)
    }

    /// Creates an `admin` account when no admin exists; returns its name and one-time password.
    /// A user row that fails its integrity check neither counts as an admin nor stops the server; an
    /// `admin` row that fails is left for the operator (login refuses it).
    func ensureAdmin() async throws -> (name: String, password: String)? {
        let users = try await store.userListing()
        guard !users.verified.contains(where: { $0.role == .admin }), !users.damaged.contains("admin") else {
            return nil
        }
        let password = try Self.randomPassword()
        try await store.createUser(
            UserRecord(name: "admin", role: .admin, passwordHash: try PasswordHash.make(password)))
        _ = try await audit.append(
            AuditEvent(
                actor: "-", role: "-", action: AuditAction.userCreate, subject: "admin",
                detail: "role=admin"))
        return ("admin", password)
    }

    /// Creates (or resets) a user with a random password and returns the password (benchmarks).
    func ensureUser(name: String, role: Role) async throws -> String {
        let password = try Self.randomPassword()
        let hash = try PasswordHash.make(password)
        if var existing = try await store.user(named: name) {
            existing.passwordHash = hash
            try await store.updateUser(existing)
        } else {
            try await store.createUser(UserRecord(name: name, role: role, passwordHash: hash))
        }
        return password
    }

    /// 20 characters from an unambiguous alphabet (about 100 bits).
    static func randomPassword() throws -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789")
        return String(try SecureRandom.bytes(20).map { alphabet[Int($0) % alphabet.count] })
    }

    func close() async {
        checkpointTimer?.cancel()
        try? await audit.close()
    }
}

/// A plain error with a message for the operator.
struct ValidationErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// scrypt from EnclaveCrypto as ChatCore's `PasswordVerifier`.
struct ScryptPasswords: PasswordVerifier {
    let decoyHash: String

    /// Makes the decoy hash (one scrypt run) used for unknown users.
    init() throws {
        decoyHash = try PasswordHash.make(UUID().uuidString)
    }

    func verify(_ password: String, against stored: String) -> Bool {
        PasswordHash.verify(password, against: stored)
    }
}
