// A user's own password, and whether a live session is still allowed.
//
// A password someone else chose (the first admin's printed password, one an admin set) is one-time: it
// opens one session, in which the user chats but has no role's privileges (`/audit`, `/reload`, break-
// glass) and is asked to choose their own with `/passwd <current> <new>`; once that session has begun,
// the one-time password logs in no more (an admin sets a new one with `enclave users passwd`). So the
// printed password cannot be reused by whoever reads the log it went to, and a newcomer's first
// question is still answered. A wrong current password on `/passwd` counts as a failed login.
//
// Sessions outlive the check made at login, so the server asks here again whenever an account may have
// changed (another process wrote the database, or this one locked an account or changed a password): a
// session whose account is gone, disabled, locked, demoted or regrouped, or whose password changed
// elsewhere, is ended.
public import Foundation
import Storage
import Synchronization

/// Why a live session was ended: a stable code (the audit outcome) and a sentence for the client.
public struct SessionEnd: Sendable, Equatable {
    public var code: String
    public var sentence: String

    public init(code: String, sentence: String) {
        self.code = code
        self.sentence = sentence
    }

    /// The password changed elsewhere: the one end a session's own `/passwd` takes back (ChatServer).
    public static let passwordChanged = SessionEnd(
        code: "password-changed", sentence: "your password was changed; log in again")
}

/// What a change stamp is compared by: another process's writes and this process's own account changes.
public struct AccountStamp: Sendable, Equatable {
    var external: Int
    var local: Int
}

extension ChatCore {
    /// The shortest password `/passwd` accepts (the same rule as `enclave users`).
    public static let minimumPasswordLength = 12

    /// The session's view of `account` right after it logged in.
    static func principal(_ account: UserRecord) -> Principal {
        var principal = Principal(
            name: account.name, role: account.role, groups: account.groups,
            mustChangePassword: account.passwordState != .own)
        principal.credential = credential(account.passwordHash)
        return principal
    }

    /// A process-local digest of a stored hash, to notice that it changed.
    private static func credential(_ passwordHash: String) -> Int {
        var hasher = Hasher()
        hasher.combine(passwordHash)
        return hasher.finalize()
    }

    /// Notes an account change made here that may end sessions (a lock, a password change).
    func accountsChanged() { localAccountChanges.add(1, ordering: .relaxed) }

    /// The current stamp; when it differs from the last one seen, `endedSessions` is worth asking. Nil
    /// when the store cannot say (asked again later).
    public func accountStamp() async -> AccountStamp? {
        guard let external = try? await store.changeCounter() else { return nil }
        return AccountStamp(external: external, local: localAccountChanges.load(ordering: .relaxed))
    }

    /// For each principal of a live session, why it must end, if it must; nil when an account could not
    /// be read for a reason other than integrity (nothing is ended on a guess; the caller asks again).
    public func endedSessions(_ principals: [Principal], now: Date = Date()) async -> [SessionEnd?]? {
        var accountsByName: [String: UserRecord?] = [:]
        var damaged: Set<String> = []
        for name in Set(principals.map(\.name)) {
            do {
                accountsByName[name] = try await store.user(named: name)
            } catch let error as StoreError where error.code == .integrity {
                damaged.insert(name)
            } catch {
                return nil
            }
        }
        return principals.map { principal in
            if damaged.contains(principal.name) {
                return SessionEnd(code: "integrity", sentence: "your account record failed its integrity check")
            }
            guard let account = accountsByName[principal.name] ?? nil else {
                return SessionEnd(code: "deleted", sentence: "your account was deleted")
            }
            return Self.end(principal, account, now: now)
        }
    }

    private static func end(_ principal: Principal, _ account: UserRecord, now: Date) -> SessionEnd? {
        if account.disabled { return SessionEnd(code: "disabled", sentence: "your account was disabled") }
        if let until = account.lockedUntil, until > now {
            return SessionEnd(code: "locked", sentence: "your account was locked")
        }
        if account.role != principal.role {
            return SessionEnd(code: "role-changed", sentence: "your role changed; log in again")
        }
        if account.groups != principal.groups {
            return SessionEnd(code: "groups-changed", sentence: "your groups changed; log in again")
        }
        if credential(account.passwordHash) != principal.credential {
            return .passwordChanged
        }
        return nil
    }

    /// The notice of a session opened by a one-time password.
    public static let oneTimePasswordNotice =
        "your password was set for you and works for this session only: choose your own now with "
        + "/passwd <current> <new> (at least \(minimumPasswordLength) characters)"

    /// The refusal of a privileged command in a session opened by a one-time password.
    static let chooseFirst = "choose your own password first: /passwd <current> <new>"

    /// The answer to a one-time password that has already opened its session.
    static func oneTimePasswordUsed(_ name: String) -> String {
        "this one-time password was already used; an administrator can set a new one with "
            + "`enclave users passwd \(printable(name))`"
    }

    /// `/passwd <current> <new>`: replaces the user's password. A wrong current password counts as a
    /// failed login (and may lock the account, which ends the session); the new one must have at least
    /// `minimumPasswordLength` characters, differ from the current one and not contain the user name.
    /// Audited before the change. Returns the session's principal from now on; the user's other
    /// sessions end (their credential no longer matches).
    public func changePassword(current: String, new: String, as user: Principal, origin: String)
        async throws(ChatFailure) -> Principal
    {
        let role = user.role.rawValue
        let wrong = ChatFailure(.authFailed, "the current password is wrong")
        let account = try await step { try await store.user(named: user.name) }
        let matches = await passwords.verify(current, against: account?.passwordHash ?? passwords.decoyHash)
        guard let account else {
            // The account went away during the session (its end is on its way): nothing to count.
            try await record(
                actor: user.name, role: role, origin: origin, action: "auth.password-change", subject: user.name,
                outcome: "failed")
            throw wrong
        }
        guard matches else {
            _ = try await countWrongPassword(account, action: "auth.password-change", origin: origin)
            throw wrong
        }
        if let problem = Self.passwordProblem(new, current: current, user: user.name) {
            throw ChatFailure(.badArguments, problem)
        }
        let hash: String
        do {
            hash = try await passwords.hash(new)
        } catch {
            throw .internal(error)
        }
        try await record(
            actor: user.name, role: role, origin: origin, action: "auth.password-change", subject: user.name,
            outcome: "ok")
        var changed = account
        changed.passwordHash = hash
        changed.passwordState = .own
        (changed.failedAttempts, changed.lockedUntil) = (0, nil)
        try await step { [changed] in try await store.updateUser(changed) }
        accountsChanged()
        var updated = user
        updated.mustChangePassword = false
        updated.credential = Self.credential(hash)
        return updated
    }

    /// Why `password` may not be chosen, or nil when it may.
    static func passwordProblem(_ password: String, current: String, user: String) -> String? {
        if password.count < minimumPasswordLength {
            return "a password needs at least \(minimumPasswordLength) characters"
        }
        if password == current { return "the new password must differ from the current one" }
        if password.lowercased().contains(user.lowercased()) { return "a password must not contain the user name" }
        return nil
    }
}
