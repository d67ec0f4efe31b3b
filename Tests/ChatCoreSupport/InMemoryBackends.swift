// In-memory twins of ChatCore's ports for tests that need no disk, no policy files and no model:
// process-local accounts, conversations and audit records, and an on-prem-only policy. They keep the ports' contracts
// (tags only grow, appends are ordered) but persist nothing. Test support only: nothing shipped uses them.
public import ChatCore
public import Foundation
public import Policy

/// Accounts held in memory.
public actor InMemoryAccounts: AccountDirectory {
    private var accounts: [String: UserAccount] = [:] {
        didSet { changes += 1 }
    }
    /// Every change counts, as another process's would in the database.
    private var changes = 0

    public init(_ accounts: [UserAccount] = []) {
        for account in accounts { self.accounts[account.name] = account }
    }

    public func add(_ account: UserAccount) { accounts[account.name] = account }

    public func remove(_ name: String) { accounts[name] = nil }

    public func account(named name: String) -> UserAccount? { accounts[name] }

    public func setLoginState(name: String, failedAttempts: Int, lockedUntil: Date?) {
        accounts[name]?.failedAttempts = failedAttempts
        accounts[name]?.lockedUntil = lockedUntil
    }

    public func setPassword(name: String, hash: String) {
        accounts[name]?.passwordHash = hash
        accounts[name]?.password = .own
        accounts[name]?.failedAttempts = 0
        accounts[name]?.lockedUntil = nil
    }

    public func useOneTimePassword(name: String) { accounts[name]?.password = .oneTimeUsed }

    public func changeStamp() -> Int { changes }
}

/// Conversations held in memory, with sequential ids `c1`, `c2`, ...
public actor InMemoryConversations: ConversationRepository {
    private struct Entry {
        var info: ConversationInfo
        var messages: [StoredMessage]
    }

    private var entries: [String: Entry] = [:]
    private var next = 1
    public private(set) var feedbackCount = 0

    public init() {}

    public func createConversation(owner: String, title: String?, tags: Set<String>) -> String {
        let id = "c\(next)"
        next += 1
        let now = Date()
        entries[id] = Entry(
            info: ConversationInfo(
                id: id, owner: owner, title: title, tags: tags, provider: nil, created: now, updated: now,
                messageCount: 0),
            messages: [])
        return id
    }

    public func conversation(_ id: String) -> ConversationInfo? { entries[id]?.info }

    public func conversations(owner: String) -> [ConversationInfo] {
        entries.values.map(\.info).filter { $0.owner == owner }
    }

    public func append(_ message: DraftMessage, to id: String) throws -> Int {
        guard var entry = entries[id] else { throw ChatFailure(.notFound, "no conversation") }
        let seq = entry.messages.count + 1
        entry.messages.append(
            StoredMessage(
                seq: seq, role: message.role, body: message.body, provider: message.provider, modelID: message.modelID,
                created: Date()))
        entry.info.messageCount = seq
        entry.info.updated = Date()
        entries[id] = entry
        return seq
    }

    public func history(_ id: String, limit: Int?) -> [StoredMessage] {
        let messages = entries[id]?.messages ?? []
        return limit.map { Array(messages.suffix($0)) } ?? messages
    }

    public func addTags(_ tags: Set<String>, to id: String) -> Set<String> {
        entries[id]?.info.tags.formUnion(tags)
        return entries[id]?.info.tags ?? []
    }

    public func setProvider(_ name: String, for id: String) { entries[id]?.info.provider = name }

    public func delete(_ id: String) { entries[id] = nil }

    public func addFeedback(conversation id: String, user: String, up: Bool, comment: String?) {
        feedbackCount += 1
    }
}

/// Audit records held in memory, in order.
public actor InMemoryAudit: AuditRecorder {
    public private(set) var entries: [AuditEntry] = []
    /// When true, every write fails (to test that no audit means no action).
    public var failing = false

    public init() {}

    public func setFailing(_ value: Bool) { failing = value }

    public func record(_ entry: AuditEntry) throws {
        if failing { throw ChatFailure(.internal, "audit unavailable") }
        entries.append(entry)
    }

    public func query(_ arguments: [String]) -> [[String]] {
        entries.map { [$0.action, $0.actor, $0.subject, $0.outcome] }
    }
}

/// A policy gate that lets only on-prem providers through and tags nothing: the fail-closed stance
/// used when no policy library is configured.
public struct OnPremOnlyPolicy: PolicyGate {
    public init() {}

    public func detect(_ text: String) throws -> TagResult { TagResult(tags: [], detectorCounts: [:]) }

    public func defaultTags(user: String, groups: [String]) -> Set<String> { [] }

    public func decide(_ request: DecisionRequest) -> Decision {
        var denied: [String: String] = [:]
        for provider in request.providers where provider.residency != .onPrem { denied[provider.name] = "on-prem-only" }
        return Decision(
            allowed: request.providers.filter { $0.residency == .onPrem }.map(\.name), denied: denied,
            rule: "on-prem-only", reason: "no policy loaded: only on-prem providers", tags: request.tags)
    }

    public func reload() -> String { "on-prem-only" }
}
