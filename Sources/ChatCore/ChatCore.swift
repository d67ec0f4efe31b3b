// ChatCore: the use cases of a chat session with no sockets in sight. ChatServer turns protocol lines
// into calls here and renders what comes back. This file holds the configuration, the dependencies
// and authentication; sending a message (DESIGN.md §1) is in ChatCore+Send.swift and the other
// commands in ChatCore+Commands.swift.
import Audit
public import Foundation
import Policy
public import Routing
import Storage
import Synchronization

/// The chat use cases over the storage, policy, routing and audit libraries.
public final class ChatCore: Sendable {
    /// Tunables of the use cases (the `limits:` section of the configuration).
    public struct Configuration: Sendable {
        /// Failed logins that lock an account.
        public var lockoutThreshold: Int = 10
        /// How long a lock-out lasts.
        public var lockoutDuration: TimeInterval = 30 * 60
        /// Failed logins in a row answered without a pause.
        public var freeFailures = 3
        /// The pause added per further failure in a row, and its maximum.
        public var failureDelayStep: Duration = .milliseconds(250)
        public var failureDelayCap: Duration = .seconds(2)
        /// Maximum tokens of one reply.
        public var maxTokens: Int = 256
        /// Messages of history sent with a new message (the assembler may fit fewer).
        public var historyTurns: Int = 20
        public var budget = UserLimiter.Budget()
        /// Receives every finished provider attempt with its conversation (an evaluation run notes the call
        /// that answered each item); nil for none.
        public var attemptObserver: (@Sendable (_ conversation: String, _ record: CallRecord) -> Void)?

        public init() {}
    }

    /// Accounts, conversations and messages (Storage's Store).
    let store: any ChatStore
    let passwords: any PasswordVerifier
    let policy: PolicyDirectoryGate
    let gateway: ProviderGateway
    /// The audit log (Audit's AuditLog).
    let audit: any AuditTrail
    let configuration: Configuration
    let limiter: UserLimiter
    /// Failed logins of names without an account, so they lock out like real ones.
    let throttle = LoginThrottle()
    /// Counts account changes this process made that may end live sessions (ChatCore+Accounts.swift).
    let localAccountChanges = Atomic<Int>(0)
    /// Integrity failures: counted, and handed to the server log (ChatCore+Integrity.swift).
    public let integrity: IntegrityEvents

    public init(
        store: any ChatStore, passwords: any PasswordVerifier, policy: PolicyDirectoryGate, gateway: ProviderGateway,
        audit: any AuditTrail, configuration: Configuration, integrity: IntegrityEvents = IntegrityEvents()
    ) {
        self.integrity = integrity
        self.store = store
        self.passwords = passwords
        self.policy = policy
        self.gateway = gateway
        self.audit = audit
        self.configuration = configuration
        self.limiter = UserLimiter(budget: configuration.budget)
    }

    // MARK: Authentication

    /// Checks a password and returns the user, or throws `auth-failed` / `locked-out`.
    ///
    /// An unknown user, a disabled account and a wrong password give the same answer after the same
    /// work (one scrypt verification). Every attempt is audited; if the audit write fails, the login
    /// does not happen (`internal`).
    public func login(name: String, password: String, origin: String) async throws(ChatFailure) -> Principal {
        let now = Date()
        let found: UserRecord?
        let rejected = ChatFailure(.authFailed, "unknown user or wrong password")
        do {
            found = try await store.user(named: name)
        } catch let error as StoreError where error.code == .integrity {
            // A user row changed outside the server (role, hash, flags): refused like a wrong password,
            // after the same work, and reported.
            _ = await passwords.verify(password, against: passwords.decoyHash)
            try await reportIntegrity(error.message, subject: "user:\(name)", actor: name, role: "-", origin: origin)
            try await record(
                actor: name, role: "-", origin: origin, action: "auth.login", subject: name, outcome: "integrity")
            throw rejected
        } catch {
            throw .internal(error)
        }
        /// The same words for a real and an unknown name, with how long the lock lasts.
        func lockedOut(until: Date) -> ChatFailure {
            let minutes = max(1, Int((until.timeIntervalSince(now) / 60).rounded(.up)))
            return ChatFailure(
                .lockedOut, "too many failed logins; try again in \(minutes) minute\(minutes == 1 ? "" : "s")")
        }
        guard var account = found else {
            _ = await passwords.verify(password, against: passwords.decoyHash)
            if let until = throttle.lockedUntil(name, now: now) {
                try await record(
                    actor: name, role: "-", origin: origin, action: "auth.login", subject: name, outcome: "locked-out",
                    pseudonymous: true)
                throw lockedOut(until: until)
            }
            let counted = throttle.fail(
                name, now: now, threshold: configuration.lockoutThreshold, duration: configuration.lockoutDuration)
            try await record(
                actor: name, role: "-", origin: origin, action: "auth.login", subject: name, outcome: "unknown-user",
                pseudonymous: true)
            if counted.locked {
                try await record(
                    actor: name, role: "-", origin: origin, action: "auth.lockout", subject: name, outcome: "locked",
                    pseudonymous: true)
            }
            try? await Task.sleep(for: configuration.failureDelay(afterFailures: counted.failures))
            throw Self.rejection(rejected, locked: counted.locked)
        }
        let matches = await passwords.verify(password, against: account.passwordHash)
        let role = account.role.rawValue
        if let until = account.lockedUntil, until > now {
            try await record(
                actor: name, role: role, origin: origin, action: "auth.login", subject: name, outcome: "locked-out")
            throw lockedOut(until: until)
        }
        if account.disabled {
            try await record(
                actor: name, role: role, origin: origin, action: "auth.login", subject: name, outcome: "disabled")
            throw rejected
        }
        guard matches else {
            let locks = try await countWrongPassword(account, action: "auth.login", origin: origin, now: now)
            throw Self.rejection(rejected, locked: locks)
        }
        if account.passwordState == .oneTimeUsed {
            try await record(
                actor: name, role: role, origin: origin, action: "auth.login", subject: name,
                outcome: "one-time-password-used")
            throw ChatFailure(.authFailed, Self.oneTimePasswordUsed(name))
        }
        // The session's view is the account as it logged in (a one-time password still asks for a new one).
        let principal = Self.principal(account)
        if account.failedAttempts != 0 || account.lockedUntil != nil || account.passwordState == .oneTime {
            (account.failedAttempts, account.lockedUntil) = (0, nil)
            if account.passwordState == .oneTime { account.passwordState = .oneTimeUsed }
            try await step { [account] in try await store.updateUser(account) }
        }
        try await record(actor: name, role: role, origin: origin, action: "auth.login", subject: name, outcome: "ok")
        return principal
    }

    /// Counts a wrong password for `account` (at `/login` or `/passwd`): stores the count or the lock,
    /// audits `action` as failed (and `auth.lockout` when it locks), then waits the growing delay.
    /// Returns whether this failure locked the account; a lock ends the account's live sessions too
    /// (it may be someone guessing the password of a logged-in user).
    func countWrongPassword(_ account: UserRecord, action: String, origin: String, now: Date = Date())
        async throws(ChatFailure) -> Bool
    {
        let (name, role) = (account.name, account.role.rawValue)
        let failures = account.failedAttempts + 1
        let locks = failures >= configuration.lockoutThreshold
        var counted = account
        counted.failedAttempts = locks ? 0 : failures
        counted.lockedUntil = locks ? now.addingTimeInterval(configuration.lockoutDuration) : nil
        try await step { [counted] in try await store.updateUser(counted) }
        try await record(actor: name, role: role, origin: origin, action: action, subject: name, outcome: "failed")
        if locks {
            try await record(
                actor: name, role: role, origin: origin, action: "auth.lockout", subject: name, outcome: "locked")
            accountsChanged()
        }
        try? await Task.sleep(for: configuration.failureDelay(afterFailures: failures))
        return locks
    }

    /// The rejection of a failed login, noting for the server log whether it locked the name.
    private static func rejection(_ rejected: ChatFailure, locked: Bool) -> ChatFailure {
        var failure = rejected
        if locked { failure.logNote = "lockout" }
        return failure
    }

    /// A client address as the server log writes it by default: the audit log's keyed pseudonym.
    public func pseudonym(_ origin: String) -> String { (try? audit.pseudonym(origin)) ?? "-" }

    /// Audits the end of a session (`/logout`, `/quit` or a closed connection).
    public func logout(_ user: Principal, origin: String, reason: String) async {
        try? await record(
            actor: user.name, role: user.role.rawValue, origin: origin, action: "auth.logout", subject: user.name,
            outcome: reason)
    }

    // MARK: Helpers shared by the use cases

    /// Writes one audit record; a failure becomes `internal` so the caller stops before acting.
    /// - Parameter pseudonymous: `actor` and `subject` are free text someone typed (an unknown login name,
    ///   perhaps a password typed into the wrong field): the log keeps them key-hashed, like origins.
    func record(
        actor: String, role: String, origin: String, action: String, subject: String, outcome: String,
        detail: String? = nil, pseudonymous: Bool = false
    ) async throws(ChatFailure) {
        // Every login attempt is audited exactly once, so its record is where a refused one is counted; a
        // wrong current password on /passwd counts as a failed login too.
        if action == "auth.login", outcome != "ok" { ChatMetrics.failedLogin(outcome: outcome) }
        if action == "auth.password-change", outcome == "failed" { ChatMetrics.failedLogin(outcome: "passwd") }
        let event = AuditEvent(
            actor: actor, role: role, origin: origin, action: action, subject: subject, outcome: outcome,
            detail: detail)
        try await durable(begin(event, pseudonymous: pseudonymous))
    }

    /// Submits `event` to the audit log and returns at once, so the caller can do other durable work while
    /// the log's thread writes it; `durable` waits for it. Records are written in the order they are begun.
    func begin(_ event: AuditEvent, pseudonymous: Bool = false) -> PendingRecord {
        PendingRecord(
            ticket: Result {
                var stored = event
                if pseudonymous {
                    stored.actor = try audit.pseudonym(event.actor)
                    stored.subject = try audit.pseudonym(event.subject)
                }
                return try audit.submit(stored)
            })
    }

    /// Waits until a begun record is on disk; an audit failure is `internal` for the user, and the action
    /// the record covers must not happen.
    func durable(_ record: PendingRecord) async throws(ChatFailure) {
        do {
            _ = try await audit.durable(record.ticket.get())
        } catch {
            throw .internal(error)
        }
    }

    /// Runs a storage/policy step, turning anything but a `ChatFailure` into `internal`. A row that is gone
    /// becomes `not-found`; a row that failed authentication becomes `integrity`, with the row's description
    /// held for the log (`namingIntegrity` reports it and names the conversation).
    func step<T>(_ body: () async throws -> T) async throws(ChatFailure) -> T {
        do {
            return try await body()
        } catch let failure as ChatFailure {
            throw failure
        } catch let error as StoreError where error.code == .integrity {
            var failure = ChatFailure(.integrity, "a stored row failed an integrity check; the event was logged")
            failure.logNote = error.message
            throw failure
        } catch let error as StoreError where error.code == .notFound {
            // A row removed meanwhile (an admin erased the account and its conversations while a reply
            // streamed): the Store's words name the row, never content.
            throw ChatFailure(.notFound, error.message)
        } catch {
            throw .internal(error)
        }
    }

    /// A conversation id as the client typed it: one not in the Store's form names no conversation.
    static func conversationID(_ text: String) throws(ChatFailure) -> ConversationID {
        guard let id = ConversationID(rawValue: text) else {
            throw ChatFailure(.notFound, "no conversation \(printable(text))")
        }
        return id
    }

    /// The send path's lookup of a conversation the user may use (owner, sticky provider, tags only).
    func ownedHead(_ id: ConversationID, by user: Principal, origin: String) async throws(ChatFailure)
        -> ConversationHead
    {
        try await owned(id, by: user, origin: origin, owner: \.owner) { try await store.head(id) }
    }

    /// Loads a conversation the user may use: their own.
    func ownedConversation(_ id: ConversationID, by user: Principal, origin: String) async throws(ChatFailure)
        -> ConversationSummary
    {
        try await owned(id, by: user, origin: origin, owner: \.owner) { try await store.conversation(id) }
    }

    /// `load`s conversation `id` if `user` owns it: `not-found` when it does not exist, `forbidden`
    /// (audited) when it is someone else's.
    private func owned<T>(
        _ id: ConversationID, by user: Principal, origin: String, owner: (T) -> String,
        load: () async throws -> T?
    ) async throws(ChatFailure) -> T {
        guard let found = try await checked(id, user, origin: origin, load) else {
            throw ChatFailure(.notFound, "no conversation \(id)")
        }
        guard owner(found) == user.name else {
            try await record(
                actor: user.name, role: user.role.rawValue, origin: origin, action: "access.denied",
                subject: "conversation:\(id)", outcome: "forbidden")
            throw ChatFailure(.forbidden, "that conversation belongs to someone else")
        }
        return found
    }

    /// An identifier as it may be echoed in an error: short, no spaces or control characters.
    static func printable(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.filter { $0.value > 0x20 && $0.value != 0x7F }.prefix(64))
        return cleaned.isEmpty ? "(empty)" : cleaned
    }
}

/// An audit record on its way to disk: the log's ticket, or why it could not be submitted.
struct PendingRecord: Sendable {
    let ticket: Result<AuditTicket, any Error>
}
