// Opens the real parts behind a chat server from a data directory: the master key (created 0600 on
// first run), the sealed Store, the audit log (keys derived from the master key), the policies, and
// a model gateway. Shared by `enclave serve`, `enclave users` and `enclave bench server`.
import Audit
import ChatCore
import EnclaveCrypto
import Foundation
import Logging
import NIOPosix
import Routing
import Storage

/// Where one server's state lives, as the settings resolved it.
struct DataLocations {
    var dataDirectory: String
    var database: String
    var auditDirectory: String
    var keySource: KeySource
    var policies: String

    /// The default layout under `dataDirectory` (`enclave.db`, `audit/`, `master.key`).
    init(dataDirectory: String, policies: String = "policies") {
        self.init(
            dataDirectory: dataDirectory, database: dataDirectory + "/enclave.db",
            auditDirectory: dataDirectory + "/audit", keySource: .file(ServerAssembly.masterKeyPath(dataDirectory)),
            policies: policies)
    }

    init(dataDirectory: String, database: String, auditDirectory: String, keySource: KeySource, policies: String) {
        self.dataDirectory = dataDirectory
        self.database = database
        self.auditDirectory = auditDirectory
        self.keySource = keySource
        self.policies = policies
    }
}

extension Settings {
    var locations: DataLocations {
        DataLocations(
            dataDirectory: dataDirectory.value, database: database.value, auditDirectory: auditDirectory.value,
            keySource: keySource.value, policies: policies.value)
    }
}

/// The opened back ends of one data directory.
struct ServerAssembly {
    let dataDirectory: String
    let store: Store
    let audit: AuditLog
    let policy: PolicyDirectoryGate
    let gateway: ProviderGateway

    static func masterKeyPath(_ dataDirectory: String) -> String { dataDirectory + "/master.key" }

    /// Opens (creating on first run) the data directory's key, store and audit log.
    static func open(
        _ locations: DataLocations, gateway: ProviderGateway,
        audit auditConfiguration: AuditLog.Configuration = AuditLog.Configuration()
    ) async throws -> ServerAssembly {
        let ring = try openKeys(locations)
        let store = try Store(path: locations.database, keyRing: ring)
        let secrets = try AuditMasterKey.secrets(ring: ring, directory: locations.auditDirectory)
        let audit = try await AuditLog(
            directory: locations.auditDirectory, macKey: secrets.mac, signer: secrets.signer,
            configuration: auditConfiguration)
        // The registry goes to the policy, so a rule naming an undeclared provider is refused at load and reload.
        let policy = PolicyDirectoryGate(directory: locations.policies, providers: gateway.router.descriptors)
        return ServerAssembly(
            dataDirectory: locations.dataDirectory, store: store, audit: audit, policy: policy, gateway: gateway)
    }

    /// Opens only the store (for `enclave users`), creating the data directory and key if needed.
    static func openStore(_ locations: DataLocations) throws -> Store {
        try Store(path: locations.database, keyRing: try openKeys(locations))
    }

    /// The key ring. A missing key file is created (0600) only on a true first run: when no database
    /// exists yet. A key file missing beside an existing database is a lost or moved key, and a new
    /// key would make every stored conversation unreadable, so that is an error instead.
    private static func openKeys(_ locations: DataLocations) throws -> KeyRing {
        try createDirectory(locations.dataDirectory)
        if case .file(let path) = locations.keySource, !FileManager.default.fileExists(atPath: path) {
            guard !FileManager.default.fileExists(atPath: locations.database) else {
                throw CLIError(
                    "the master key file \(path) is missing but the database \(locations.database) exists; "
                        + "restore the key file (or point keys.file / --key-file at it). A new key would make "
                        + "every stored conversation unreadable, so none is created.")
            }
            try KeyRing(keys: [1: SymmetricKey.random()]).createKeyFile(at: path)
        }
        return try KeyRing.load(locations.keySource)
    }

    /// Creates the data directory with mode 0700, and refuses an existing one that others may enter.
    private static func createDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CLIError("\(path) is not a directory") }
            if let problem = DataDirectoryCheck.problem(path) { throw CLIError(problem) }
            return
        }
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// The ChatCore over these back ends; integrity failures become `storage.integrity` lines in `logger`.
    func core(configuration: ChatCore.Configuration, logger: Logger? = nil) throws -> ChatCore {
        let integrity = IntegrityEvents { event in
            logger?.error(
                "storage.integrity",
                metadata: [
                    "integrity.subject": "\(event.subject)", "integrity.row": "\(event.detail)",
                    "user.role": "\(event.role)", "integrity.count": "\(event.count)",
                ])
        }
        return ChatCore(
            store: store, passwords: try ScryptPasswords(), policy: policy, gateway: gateway, audit: audit,
            configuration: configuration, integrity: integrity)
    }

    /// Creates an `admin` account when no admin exists, with a one-time password that `deliver` is
    /// given first (so a password that could not be delivered never guards an account); returns the
    /// account's name. A user row that fails its integrity check neither counts as an admin nor stops
    /// the server; an `admin` row that fails is left for the operator (login refuses it).
    @discardableResult
    func ensureAdmin(deliver: (_ name: String, _ password: String) throws -> Void) async throws -> String? {
        let users = try await store.userListing()
        guard !users.verified.contains(where: { $0.role == .admin }), !users.damaged.contains("admin") else {
            return nil
        }
        let password = try Self.randomPassword()
        try deliver("admin", password)
        try await store.createUser(
            UserRecord(
                name: "admin", role: .admin, passwordHash: try PasswordHash.make(password), passwordState: .oneTime))
        _ = try await audit.append(
            AuditEvent(
                actor: "-", role: "-", action: AuditAction.userCreate, subject: "admin",
                detail: "role=admin"))
        return "admin"
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
        try? await audit.close()
    }
}

/// scrypt from EnclaveCrypto as ChatCore's `PasswordVerifier`.
struct ScryptPasswords: PasswordVerifier {
    let decoyHash: String

    /// Makes the decoy hash (one scrypt run) used for unknown users.
    init() throws {
        decoyHash = try PasswordHash.make(UUID().uuidString)
    }

    /// scrypt (50-100 ms, 16 MiB) runs on NIO's blocking-work pool, so a burst of logins never stalls the
    /// cooperative threads that carry every session's replies.
    func verify(_ password: String, against stored: String) async -> Bool {
        (try? await NIOThreadPool.singleton.runIfActive { PasswordHash.verify(password, against: stored) }) ?? false
    }

    func hash(_ password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { try PasswordHash.make(password) }
    }
}
