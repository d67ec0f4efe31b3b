// What ChatCore asks of the libraries below it, in those libraries' own types. Storage's Store and the
// Audit library's AuditLog conform as they are: there are no adapters and no copies of their records.
// The two protocols exist so that a test can put hooks around the real Store or AuditLog in a temporary
// directory (hold a write until a signal, fail one); nothing shipped implements them but the real types.
// Password hashing is a seam of its own (scrypt's cost). The policy library has none: tests give ChatCore
// the real `PolicyDirectoryGate` over policy files of their own.
public import Audit
import Foundation
import Policy
public import Storage

// MARK: Storage

/// The Store's accounts, conversations and messages as ChatCore uses them. Conversation ids are the
/// Store's; a row that fails authentication throws the Store's `integrity` error.
public protocol ChatStore: Sendable {
    func user(named name: String) async throws -> UserRecord?
    func updateUser(_ user: UserRecord) async throws
    /// A number that changes whenever another process may have changed an account (an admin's
    /// `enclave users ...`); the server re-checks its live sessions only then.
    func changeCounter() async throws -> Int
    func createConversation(owner: String, title: String?, tags: Set<String>) async throws -> ConversationID
    func conversation(_ id: ConversationID) async throws -> ConversationSummary?
    /// The send path's lookup: owner, sticky provider and tags, without what a message does not need.
    func head(_ id: ConversationID) async throws -> ConversationHead?
    /// The owner's conversations with those that fail an integrity check set apart.
    func listConversations(owner: String) async throws -> ConversationListing
    /// Seals and appends; returns only after the commit.
    func append(_ message: NewMessage, to id: ConversationID) async throws -> Int
    func history(_ id: ConversationID, limit: Int?) async throws -> [MessageRecord]
    /// Adds tags (they only grow) and returns the conversation's full set.
    func addTags(_ tags: Set<String>, to id: ConversationID) async throws -> Set<String>
    func setProvider(_ name: String, for id: ConversationID) async throws
    /// Crypto-shreds the conversation; the Store's `held` error when a legal hold keeps it.
    func delete(_ id: ConversationID) async throws
    func addFeedback(conversation id: ConversationID, user: String, up: Bool, comment: String?) async throws
}

extension Store: ChatStore {}

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

// MARK: Audit

/// The audit log as ChatCore writes and reads it. A record is submitted (written in submission order by
/// the log's own thread) and counts once `durable` returned; when either throws, the action it covers
/// must not happen.
public protocol AuditTrail: Sendable {
    /// Where the log's files live (`/audit` searches and reports read them).
    var directory: String { get }
    func submit(_ event: AuditEvent) throws -> AuditTicket
    func durable(_ ticket: AuditTicket) async throws -> UInt64
    /// `value` as the log stores a pseudonymised field (keyed HMAC).
    func pseudonym(_ value: String) throws -> String
    /// The full check of `/audit verify`: every MAC, the chain and the signed checkpoints.
    func verify() throws -> AuditVerificationReport
}

extension AuditLog: AuditTrail {}
