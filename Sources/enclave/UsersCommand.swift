// `enclave users add|passwd|disable|list`: account administration on the data directory's store.
// Passwords come from a prompt without echo (twice, to catch typos) or, when stdin is not a
// terminal, from its first line; they must be at least 12 characters and are stored as scrypt hashes.
// Each change is audited first (`OperatorAudit`): no record, no change.
import ArgumentParser
import Audit
import EnclaveCrypto
import Foundation
import Storage

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage accounts.",
        subcommands: [Add.self, Passwd.self, Disable.self, List.self])

    struct Location: ParsableArguments {
        @Option(help: "Data directory (default: $ENCLAVE_DATA_DIR or ./data).") var dataDir: String?

        func openStore() throws -> Store {
            try ServerAssembly.openStore(
                dataDirectory: dataDir ?? ProcessInfo.processInfo.environment["ENCLAVE_DATA_DIR"] ?? "data")
        }
    }

    static let minimumPasswordLength = 12

    /// Reads a new password (prompted twice on a terminal) and checks its length.
    static func readNewPassword() throws -> String {
        guard let password = Terminal.readSecret(prompt: "new password: ") else {
            throw ValidationError("no password given (type it, or pipe it on stdin)")
        }
        if isatty(STDIN_FILENO) == 1 {
            guard Terminal.readSecret(prompt: "again: ") == password else {
                throw ValidationError("the two passwords differ")
            }
        }
        guard password.count >= minimumPasswordLength else {
            throw ValidationError("a password needs at least \(minimumPasswordLength) characters")
        }
        return password
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an account.")
        @Argument(help: "User name (letters, digits, . _ -).") var name: String
        @Option(help: "staff, compliance or admin.") var role: String
        @Option(help: "Comma-separated groups.") var groups: String?
        @OptionGroup var location: Location

        func run() async throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError("--role must be staff, compliance or admin")
            }
            let store = try location.openStore()
            if try await store.user(named: name) != nil { throw ValidationError("user \(name) already exists") }
            let password = try UsersCommand.readNewPassword()
            let groupList = groups.map { $0.split(separator: ",").map(String.init) } ?? []
            try OperatorAudit.record(
                AuditAction.userCreate, subject: name, detail: "role=\(role.rawValue)", dataDirectory: location.dataDir)
            try await store.createUser(
                UserRecord(name: name, role: role, groups: groupList, passwordHash: try PasswordHash.make(password)))
            print("created \(name) (\(role.rawValue))")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a new password (and clear a lock-out).")
        @Argument var name: String
        @OptionGroup var location: Location

        func run() async throws {
            let store = try location.openStore()
            guard var user = try await store.user(named: name) else { throw ValidationError("no user \(name)") }
            user.passwordHash = try PasswordHash.make(try UsersCommand.readNewPassword())
            user.failedAttempts = 0
            user.lockedUntil = nil
            try OperatorAudit.record(AuditAction.userPassword, subject: name, dataDirectory: location.dataDir)
            try await store.updateUser(user)
            print("password of \(name) changed")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account (it can no longer log in).")
        @Argument var name: String
        @OptionGroup var location: Location

        func run() async throws {
            let store = try location.openStore()
            guard var user = try await store.user(named: name) else { throw ValidationError("no user \(name)") }
            user.disabled = true
            try OperatorAudit.record(AuditAction.userDisable, subject: name, dataDirectory: location.dataDir)
            try await store.updateUser(user)
            print("disabled \(name)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts.")
        @OptionGroup var location: Location

        func run() async throws {
            let store = try location.openStore()
            for user in try await store.listUsers().sorted(by: { $0.name < $1.name }) {
                let groups = user.groups.isEmpty ? "-" : user.groups.joined(separator: ",")
                var state = user.disabled ? "disabled" : "active"
                if let until = user.lockedUntil, until > Date() { state = "locked" }
                print([user.name, user.role.rawValue, groups, state].joined(separator: "\t"))
            }
        }
    }
}
