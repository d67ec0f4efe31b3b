// The narrow interfaces ChatCore needs from Storage, Policy and Audit (Routing it uses as it is). ChatCore is written
// against these so the use cases read in one place and can be driven without a model; the adapters in
// `Adapters/` bind them to the real libraries, and the in-memory twins serve tests and benchmarks.
public import Foundation
public import Policy

// MARK: Accounts

/// A stored account, as ChatCore needs it to authenticate.
public struct UserAccount: Sendable, Equatable {
    public var name: String
    public var role: UserRole
    public var groups: [String]
    /// An scrypt hash in the verifier's encoding; never a password.
    public var passwordHash: String
    public var disabled: Bool
    public var failedAttempts: Int
    public var lockedUntil: Date?
    /// Who chose the password: a one-time password (the first admin's, one an admin set) opens one
    /// restricted session, in which the user is asked to choose their own.
    public var password: PasswordOrigin

    public init(
        name: String, role: UserRole, groups: [String], passwordHash: String,
        disabled: Bool = false, failedAttempts: Int = 0, lockedUntil: Date? = nil, password: PasswordOrigin = .own
    ) {
        self.name = name
        self.role = role
        self.groups = groups
        self.passwordHash = passwordHash
        self.disabled = disabled
        self.failedAttempts = failedAttempts
        self.lockedUntil = lockedUntil
        self.password = password
    }
}

/// Who chose an account's password (the raw values are the store's).
public enum PasswordOrigin: Int, Sendable, Equatable {
    /// The user, with `/passwd`.
    case own = 0
    /// Someone else; it opens one session.
    case oneTime = 1
    /// Someone else, and it has opened its session: it logs in no more.
    case oneTimeUsed = 2
}

/// Where accounts live (Storage's users table).
public protocol AccountDirectory: Sendable {
    func account(named name: String) async throws -> UserAccount?
    /// Stores the login counters after an attempt.
    func setLoginState(name: String, failedAttempts: Int, lockedUntil: Date?) async throws
    /// Replaces the password hash with one the user chose: clears the forced change and the counters.
    func setPassword(name: String, hash: String) async throws
    /// Records that a one-time password has opened its session.
    func useOneTimePassword(name: String) async throws
    /// A number that changes whenever another process may have changed an account (an admin's
    /// `enclave users ...`); the server re-checks its live sessions only then.
    func changeStamp() async throws -> Int
}

/// Password hashing (scrypt), a seam so the work factor is the library's decision.
public protocol PasswordVerifier: Sendable {
    /// Whether `password` matches `stored`. Slow on purpose (scrypt): an implementation runs it on threads
    /// of its own, never the cooperative pool the sessions share.
    func verify(_ password: String, against stored: String) async -> Bool
    /// A new stored hash of `password` (slow on purpose, like `verify`).
    func hash(_ password: String) async throws -> String
    /// A valid hash of a random secret, verified against when the user does not exist so that an
    /// unknown name costs the same time as a wrong password.
    var decoyHash: String { get }
}

// MARK: Conversations

/// A conversation's metadata (never its content).
public struct ConversationInfo: Sendable, Equatable {
    public var id: String
    public var owner: String
    public var title: String?
    public var tags: Set<String>
    public var provider: String?
    public var created: Date
    public var updated: Date
    public var messageCount: Int

    public init(
        id: String, owner: String, title: String?, tags: Set<String>, provider: String?,
        created: Date, updated: Date, messageCount: Int
    ) {
        self.id = id
        self.owner = owner
        self.title = title
        self.tags = tags
        self.provider = provider
        self.created = created
        self.updated = updated
        self.messageCount = messageCount
    }
}

/// One message of a conversation, opened.
public struct StoredMessage: Sendable, Equatable {
    public var seq: Int
    /// `user`, `assistant` or `system`.
    public var role: String
    public var body: String
    public var provider: String?
    public var modelID: String?
    public var created: Date

    public init(seq: Int, role: String, body: String, provider: String?, modelID: String?, created: Date) {
        self.seq = seq
        self.role = role
        self.body = body
        self.provider = provider
        self.modelID = modelID
        self.created = created
    }
}

/// A message to seal and append.
public struct DraftMessage: Sendable, Equatable {
    public var role: String
    public var body: String
    public var provider: String?
    public var modelID: String?
    public var promptVersion: String?
    public var tokensIn: Int?
    public var tokensOut: Int?

    public init(
        role: String, body: String, provider: String? = nil, modelID: String? = nil,
        promptVersion: String? = nil, tokensIn: Int? = nil, tokensOut: Int? = nil
    ) {
        self.role = role
        self.body = body
        self.provider = provider
        self.modelID = modelID
        self.promptVersion = promptVersion
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
    }
}

/// What sending a message needs to know about its conversation: who owns it, the provider that served
/// it so far, and its tags.
public struct ConversationHead: Sendable, Equatable {
    public var owner: String
    public var provider: String?
    public var tags: Set<String>

    public init(owner: String, provider: String?, tags: Set<String>) {
        self.owner = owner
        self.provider = provider
        self.tags = tags
    }
}

/// Sealed conversation storage (Storage's Store). `append` returns only after the commit.
public protocol ConversationRepository: Sendable {
    func createConversation(owner: String, title: String?, tags: Set<String>) async throws -> String
    func conversation(_ id: String) async throws -> ConversationInfo?
    /// The send path's lookup: like `conversation` but without what a message does not need (title, count),
    /// so its cost does not grow with the conversation.
    func head(_ id: String) async throws -> ConversationHead?
    func conversations(owner: String) async throws -> [ConversationInfo]
    /// The owner's conversations with those that fail an integrity check named apart.
    func listConversations(owner: String) async throws -> ConversationList
    func append(_ message: DraftMessage, to id: String) async throws -> Int
    func history(_ id: String, limit: Int?) async throws -> [StoredMessage]
    /// Adds tags (they only grow) and returns the conversation's full set.
    func addTags(_ tags: Set<String>, to id: String) async throws -> Set<String>
    func setProvider(_ name: String, for id: String) async throws
    func delete(_ id: String) async throws
    func addFeedback(conversation id: String, user: String, up: Bool, comment: String?) async throws
}

extension ConversationRepository {
    public func listConversations(owner: String) async throws -> ConversationList {
        ConversationList(items: try await conversations(owner: owner))
    }

    public func head(_ id: String) async throws -> ConversationHead? {
        try await conversation(id).map { ConversationHead(owner: $0.owner, provider: $0.provider, tags: $0.tags) }
    }
}

// MARK: Policy

/// Detector output over one text: the tags it implies and how often each detector fired.
public struct TagResult: Sendable, Equatable {
    public var tags: Set<String>
    public var detectorCounts: [String: Int]

    public init(tags: Set<String>, detectorCounts: [String: Int]) {
        self.tags = tags
        self.detectorCounts = detectorCounts
    }
}

/// The policy library: detectors, defaults, the pure decision, and reload.
public protocol PolicyGate: Sendable {
    func detect(_ text: String) async throws -> TagResult
    func defaultTags(user: String, groups: [String]) async -> Set<String>
    /// Which providers may see a conversation: Policy's pure `evaluate` over the serving policy.
    func decide(_ request: DecisionRequest) async -> Decision
    /// Re-reads the policy files; returns a one-line description (e.g. its SHA-256). Keeps the last good
    /// policy when it throws.
    func reload() async throws -> String
    /// The tags a user may set with `/tag`: those the policy declares (nil: no vocabulary, any valid name).
    func declaredTags() async -> Set<String>?
}

extension PolicyGate {
    public func declaredTags() async -> Set<String>? { nil }
}

// MARK: Audit

/// The fields of a model call record (DESIGN.md §6). No message text.
public struct CallFields: Sendable, Equatable {
    public var modelID: String
    public var promptVersion: String
    public var provider: String
    public var residency: String
    /// `none`, `control` or `canary`; nil when no provider was chosen.
    public var canaryArm: String?
    public var decision: String
    public var rule: String
    public var tags: [String]
    public var detectorCounts: [String: Int]
    public var tokensIn: Int?
    public var tokensOut: Int?
    public var ttftMs: Int?
    public var totalMs: Int?
    /// From the price table, in millionths of the currency.
    public var costMicros: Int?
    public var errorCode: String?
    /// The reply's length in characters and its refusal flag (see Routing's `CallRecord`).
    public var replyChars: Int?
    public var refusal: Bool?
    /// The provider's region, why the router chose the primary, the deciding policy set's SHA-256, whether
    /// the token counts are estimated, and the history turns left out to fit the context.
    public var region: String?
    public var route: String?
    public var policySHA256: String?
    public var tokensEstimated: Bool?
    public var droppedTurns: Int?

    public init(
        modelID: String, promptVersion: String, provider: String, residency: String, canaryArm: String? = nil,
        decision: String, rule: String, tags: [String], detectorCounts: [String: Int], tokensIn: Int? = nil,
        tokensOut: Int? = nil, ttftMs: Int? = nil, totalMs: Int? = nil, costMicros: Int? = nil,
        errorCode: String? = nil, replyChars: Int? = nil, refusal: Bool? = nil, region: String? = nil,
        route: String? = nil, policySHA256: String? = nil, tokensEstimated: Bool? = nil, droppedTurns: Int? = nil
    ) {
        self.region = region
        self.route = route
        self.policySHA256 = policySHA256
        self.tokensEstimated = tokensEstimated
        self.droppedTurns = droppedTurns
        self.replyChars = replyChars
        self.refusal = refusal
        self.modelID = modelID
        self.promptVersion = promptVersion
        self.provider = provider
        self.residency = residency
        self.canaryArm = canaryArm
        self.decision = decision
        self.rule = rule
        self.tags = tags
        self.detectorCounts = detectorCounts
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
        self.ttftMs = ttftMs
        self.totalMs = totalMs
        self.costMicros = costMicros
        self.errorCode = errorCode
    }
}

/// One audit record as ChatCore writes it.
public struct AuditEntry: Sendable, Equatable {
    public var actor: String
    public var role: String
    /// Where the request came from (the peer address).
    public var origin: String
    /// Dotted action: `auth.login`, `auth.lockout`, `model.decision`, `model.call`, ...
    public var action: String
    public var subject: String
    /// `ok`, `denied`, `failed`, ...
    public var outcome: String
    public var call: CallFields?
    /// Content-free facts of a system event (a canary stop's observed figures); nil for most records.
    public var detail: String?
    /// Whether `actor` and `subject` are free text someone typed (an unknown login name, perhaps a
    /// password typed into the wrong field): the audit log stores them key-hashed, like origins.
    public var pseudonymous: Bool

    public init(
        actor: String, role: String, origin: String, action: String, subject: String, outcome: String,
        call: CallFields? = nil, detail: String? = nil, pseudonymous: Bool = false
    ) {
        self.detail = detail
        self.pseudonymous = pseudonymous
        self.actor = actor
        self.role = role
        self.origin = origin
        self.action = action
        self.subject = subject
        self.outcome = outcome
        self.call = call
    }
}

/// An audit record on its way to disk (`AuditRecorder.begin`).
public struct PendingAuditRecord: Sendable {
    private let wait: @Sendable () async throws -> Void

    public init(durable wait: @escaping @Sendable () async throws -> Void) {
        self.wait = wait
    }

    /// Returns once the record is durable; when it throws, the action it covers must not happen.
    public func durable() async throws { try await wait() }
}

/// The audit log. `record` is durable when it returns; when it throws, the action must not happen.
public protocol AuditRecorder: Sendable {
    func record(_ entry: AuditEntry) async throws
    /// Starts writing `entry` and returns at once, so the caller can do other durable work while it is
    /// written; records are written in the order they are begun. The default starts it when awaited.
    func begin(_ entry: AuditEntry) -> PendingAuditRecord
    /// Rows for `/audit <arguments>` (compliance), each a list of TAB-free fields.
    func query(_ arguments: [String]) async throws -> [[String]]
    /// `value` as the audit log stores a pseudonymised field (keyed HMAC), for the server log.
    func pseudonym(_ value: String) -> String
}

extension AuditRecorder {
    /// Without a key there is no pseudonym that cannot be reversed by trying every address: redact.
    public func pseudonym(_ value: String) -> String { "-" }

    public func begin(_ entry: AuditEntry) -> PendingAuditRecord {
        PendingAuditRecord { try await record(entry) }
    }
}
