// Binds ChatCore's account and conversation ports to Storage's Store (sealed SQLite). Conversation
// ids cross as strings; one that is not in the Store's form is simply not found. The Store's
// `integrity` errors cross as `IntegrityViolation`, which ChatCore reports and names to the client.
public import Foundation
public import Storage

/// Storage's Store as ChatCore's `AccountDirectory` and `ConversationRepository`.
public struct StoreAdapter: AccountDirectory, ConversationRepository {
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    // MARK: Accounts

    public func account(named name: String) async throws -> UserAccount? {
        guard let record = try await guarded({ try await store.user(named: name) }) else { return nil }
        return UserAccount(
            name: record.name, role: UserRole(rawValue: record.role.rawValue) ?? .staff, groups: record.groups,
            passwordHash: record.passwordHash, disabled: record.disabled, failedAttempts: record.failedAttempts,
            lockedUntil: record.lockedUntil, password: PasswordOrigin(rawValue: record.passwordState.rawValue) ?? .oneTimeUsed)
    }

    public func useOneTimePassword(name: String) async throws {
        guard var record = try await guarded({ try await store.user(named: name) }) else { return }
        record.passwordState = .oneTimeUsed
        try await store.updateUser(record)
    }

    public func setPassword(name: String, hash: String) async throws {
        guard var record = try await guarded({ try await store.user(named: name) }) else { return }
        record.passwordHash = hash
        record.passwordState = .own
        record.failedAttempts = 0
        record.lockedUntil = nil
        try await store.updateUser(record)
    }

    public func changeStamp() async throws -> Int { try await store.changeCounter() }

    public func setLoginState(name: String, failedAttempts: Int, lockedUntil: Date?) async throws {
        guard var record = try await guarded({ try await store.user(named: name) }) else { return }
        record.failedAttempts = failedAttempts
        record.lockedUntil = lockedUntil
        try await store.updateUser(record)
    }

    // MARK: Conversations

    private func id(_ text: String) throws -> ConversationID {
        guard let id = ConversationID(rawValue: text) else {
            throw ChatFailure(.notFound, "no conversation \(ChatCore.printable(text))")
        }
        return id
    }

    private static func info(_ summary: ConversationSummary) -> ConversationInfo {
        ConversationInfo(
            id: summary.id.rawValue, owner: summary.owner, title: summary.title, tags: summary.tags,
            provider: summary.provider, created: summary.created, updated: summary.updated,
            messageCount: summary.messageCount)
    }

    public func createConversation(owner: String, title: String?, tags: Set<String>) async throws -> String {
        try await store.createConversation(owner: owner, title: title, tags: tags).rawValue
    }

    public func conversation(_ id: String) async throws -> ConversationInfo? {
        guard let id = ConversationID(rawValue: id) else { return nil }
        return try await guarded { try await store.conversation(id) }.map(Self.info)
    }

    public func head(_ id: String) async throws -> ConversationHead? {
        guard let id = ConversationID(rawValue: id), let head = try await guarded({ try await store.head(id) })
        else { return nil }
        return ConversationHead(owner: head.owner, provider: head.provider, tags: head.tags)
    }

    public func conversations(owner: String) async throws -> [ConversationInfo] {
        try await guarded { try await store.conversations(owner: owner) }.map(Self.info)
    }

    public func listConversations(owner: String) async throws -> ConversationList {
        let listing = try await store.listConversations(owner: owner)
        return ConversationList(
            items: listing.summaries.map(Self.info),
            damaged: listing.damaged.map { (id: $0.id.rawValue, detail: $0.error.message) })
    }

    public func append(_ message: DraftMessage, to id: String) async throws -> Int {
        try await guarded {
            try await store.append(
                Storage.NewMessage(
                    role: message.role, body: message.body, provider: message.provider, modelID: message.modelID,
                    promptVersion: message.promptVersion, tokensIn: message.tokensIn, tokensOut: message.tokensOut),
                to: try self.id(id))
        }
    }

    public func history(_ id: String, limit: Int?) async throws -> [StoredMessage] {
        try await guarded { try await store.history(try self.id(id), limit: limit) }.map {
            StoredMessage(
                seq: $0.seq, role: $0.role, body: $0.body, provider: $0.provider, modelID: $0.modelID,
                created: $0.created)
        }
    }

    /// Runs `body`, turning the Store's `integrity` errors into ChatCore's `IntegrityViolation`.
    private func guarded<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError where error.code == .integrity {
            throw IntegrityViolation(detail: error.message)
        }
    }

    public func addTags(_ tags: Set<String>, to id: String) async throws -> Set<String> {
        try await guarded { try await store.addTags(tags, to: try self.id(id)) }
    }

    public func setProvider(_ name: String, for id: String) async throws {
        try await guarded { try await store.setProvider(name, for: try self.id(id)) }
    }

    /// Deletes (crypto-shreds) a conversation; one under legal hold is `forbidden` (the hold's id and
    /// reason are for operators, so neither is named).
    public func delete(_ id: String) async throws {
        do {
            try await store.delete(try self.id(id))
        } catch let error as StoreError where error.code == .held {
            throw ChatFailure(.forbidden, "conversation \(id) is under legal hold and cannot be deleted")
        }
    }

    public func addFeedback(conversation id: String, user: String, up: Bool, comment: String?) async throws {
        try await store.addFeedback(conversation: try self.id(id), user: user, up: up, comment: comment)
    }
}
