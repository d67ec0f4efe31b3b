// `enclave users add|passwd|disable|enable|set-role|set-groups|unlock|delete|list` (and `export|erase`,
// UsersDataCommands.swift): account administration
// on the store the configuration names (the same one `serve` uses).
// Passwords come from a prompt without echo (twice, to catch typos) or, when stdin is not a
// terminal, from its first line; they must be at least 12 characters and are stored as scrypt hashes.
// A password set here is one-time unless `--permanent`: it opens one session, in which the user must
// choose their own with `/passwd` (an admin should not know a user's password).
// Each change is audited first (`OperatorAudit`): no record, no change.
import ArgumentParser
import Audit
import ChatCore
import EnclaveCrypto
import Foundation
import Storage

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage accounts.",
        subcommands: [
            Add.self, Passwd.self, Disable.self, Enable.self, SetRole.self, SetGroups.self, Unlock.self, Delete.self,
            List.self, Export.self, Erase.self,
        ])

    /// Where the accounts are: the configuration `serve` uses (Settings.swift).
    struct Location: ParsableArguments {
        @OptionGroup var options: ConfigOptions

        func settings() throws -> Settings { try options.resolve() }

        func openStore() throws -> Store { try ServerAssembly.openStore(try settings().locations) }

        /// Audits an account change before it is made: no record, no change.
        func audit(_ action: String, subject: String, detail: String? = nil) throws {
            try OperatorAudit.record(action, subject: subject, detail: detail, settings: try settings())
        }
    }

    static let minimumPasswordLength = ChatCore.minimumPasswordLength

    /// Said after a one-time password is set.
    static let oneTimeNote =
        "; the password is one-time: it opens one session, in which the user chooses their own with /passwd"

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

    /// `--permanent`: whether the password being set is the user's own choice.
    struct PasswordKind: ParsableArguments {
        @Flag(
            help: "The password is the user's own choice (typed by them), not a one-time password they must replace.")
        var permanent = false

        var state: PasswordState { permanent ? .own : .oneTime }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an account.")
        @Argument(help: "User name (letters, digits, . _ -).") var name: String
        @Option(help: "staff, compliance or admin.") var role: String
        @Option(help: "Comma-separated groups.") var groups: String?
        @OptionGroup var kind: PasswordKind
        @OptionGroup var location: Location

        func run() async throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError("--role must be staff, compliance or admin")
            }
            let store = try location.openStore()
            if try await store.user(named: name) != nil { throw ValidationError("user \(name) already exists") }
            let password = try UsersCommand.readNewPassword()
            let groupList = groups.map { $0.split(separator: ",").map(String.init) } ?? []
            try location.audit(AuditAction.userCreate, subject: name, detail: "role=\(role.rawValue)")
            try await store.createUser(
                UserRecord(
                    name: name, role: role, groups: groupList, passwordHash: try PasswordHash.make(password),
                    passwordState: kind.state))
            print("created \(name) (\(role.rawValue))" + (kind.permanent ? "" : UsersCommand.oneTimeNote))
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a new password (and clear a lock-out); the user's live sessions end.")
        @Argument var name: String
        @OptionGroup var kind: PasswordKind
        @OptionGroup var location: Location

        func run() async throws {
            let store = try location.openStore()
            guard var user = try await store.user(named: name) else { throw ValidationError("no user \(name)") }
            user.passwordHash = try PasswordHash.make(try UsersCommand.readNewPassword())
            user.passwordState = kind.state
            user.failedAttempts = 0
            user.lockedUntil = nil
            try location.audit(AuditAction.userPassword, subject: name)
            try await store.updateUser(user)
            print("password of \(name) changed" + (kind.permanent ? "" : UsersCommand.oneTimeNote))
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account (it can no longer log in).")
        @Argument var name: String
        @OptionGroup var location: Location

        func run() async throws {
            try await UsersCommand.change(name, at: location, action: AuditAction.userDisable) { $0.disabled = true }
            print("disabled \(name)")
        }
    }

    /// Loads `name`, lets `change` edit it, audits `action` first, then stores it. A running server
    /// notices the change within a second (it re-reads logged-in accounts) and ends sessions it no
    /// longer allows.
    static func change(
        _ name: String, at location: Location, action: String, detail: String? = nil,
        _ edit: (inout UserRecord) throws -> Void
    ) async throws {
        let store = try location.openStore()
        guard var user = try await store.user(named: name) else { throw ValidationError("no user \(name)") }
        try edit(&user)
        try location.audit(action, subject: name, detail: detail)
        try await store.updateUser(user)
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled account.")
        @Argument var name: String
        @OptionGroup var location: Location

        func run() async throws {
            try await UsersCommand.change(name, at: location, action: AuditAction.userEnable) { $0.disabled = false }
            print("enabled \(name)")
        }
    }

    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-role", abstract: "Change an account's role (its live sessions end).")
        @Argument var name: String
        @Argument(help: "staff, compliance or admin.") var role: String
        @OptionGroup var location: Location

        func run() async throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError("the role must be staff, compliance or admin")
            }
            try await UsersCommand.change(
                name, at: location, action: AuditAction.userRole, detail: "role=\(role.rawValue)"
            ) {
                $0.role = role
            }
            print("\(name) is now \(role.rawValue)")
        }
    }

    struct SetGroups: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-groups", abstract: "Replace an account's groups (comma-separated; empty for none).")
        @Argument var name: String
        @Argument var groups: String
        @OptionGroup var location: Location

        func run() async throws {
            let list = groups.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            try await UsersCommand.change(
                name, at: location, action: AuditAction.userGroups, detail: "groups=\(list.joined(separator: ","))"
            ) { $0.groups = list }
            print("\(name) groups: \(list.isEmpty ? "none" : list.joined(separator: ","))")
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Clear a lock-out and the failed-login count.")
        @Argument var name: String
        @OptionGroup var location: Location

        func run() async throws {
            try await UsersCommand.change(name, at: location, action: AuditAction.userUnlock) {
                $0.failedAttempts = 0
                $0.lockedUntil = nil
            }
            print("unlocked \(name)")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete an account and crypto-shred every conversation it owns (the audit trail stays).")
        @OptionGroup var target: ShredTarget

        func run() async throws {
            let shredded = try await target.shred(action: AuditAction.userDelete)
            print("deleted \(target.name) and crypto-shredded \(shredded) conversation(s)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List accounts (name, role, groups, state); a row that fails its integrity check is listed "
                + "as `integrity-failed` and the exit status is 1.")
        @OptionGroup var location: Location

        func run() async throws {
            let store = try location.openStore()
            let listing = try await store.userListing()
            var rows: [(name: String, line: String)] = listing.verified.map { user in
                let groups = user.groups.isEmpty ? "-" : user.groups.joined(separator: ",")
                var state = user.disabled ? "disabled" : "active"
                if let until = user.lockedUntil, until > Date() { state = "locked" }
                if user.passwordState == .oneTime { state += ",one-time-password" }
                return (user.name, [user.name, user.role.rawValue, groups, state].joined(separator: "\t"))
            }
            // A tampered row does not hide the others; its columns are not trusted, so none is shown.
            rows += listing.damaged.map { ($0, [$0, "-", "-", "integrity-failed"].joined(separator: "\t")) }
            for row in rows.sorted(by: { $0.name < $1.name }) { print(row.line) }
            if !listing.damaged.isEmpty {
                FileHandle.standardError.write(
                    Data(
                        "\(listing.damaged.count) account row(s) failed their integrity check (see README, Operations)\n"
                            .utf8))
                throw ExitCode(1)
            }
        }
    }
}
