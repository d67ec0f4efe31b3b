// The back ends a ChatCore test runs on: the real Store (sealed SQLite) and the real hash-chained AuditLog
// in a temporary directory, the log behind `HookedAudit` so that a test can make its writes fail (no audit
// means no action) or see when a record is submitted. Also the on-prem-only policy, for tests that need
// no policy files. Test support only: nothing shipped uses them.
public import Audit
public import ChatCore
import EnclaveCrypto
import Foundation
public import Policy
public import Storage
import Synchronization

/// A temporary directory with a Store and an AuditLog; the directory is removed when this goes away.
public final class TestBackends: Sendable {
    public let directory: String
    public let store: Store
    public let keyRing: KeyRing
    public let log: AuditLog
    /// The log as ChatCore is given it.
    public let audit: HookedAudit

    /// - Parameter users: accounts created before the test starts.
    public init(users: [UserRecord] = []) async throws {
        directory = NSTemporaryDirectory() + "enclave-chatcore-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        keyRing = try KeyRing(keys: [1: SymmetricKey.random()])
        store = try Store(path: directory + "/enclave.db", keyRing: keyRing)
        let secrets = try AuditSecrets(root: SymmetricKey.random())
        log = try await AuditLog(directory: directory + "/audit", macKey: secrets.mac, signer: secrets.signer)
        audit = HookedAudit(log)
        for user in users { try await store.createUser(user) }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Another connection to the same database, as another process has (an admin's `enclave users ...`):
    /// its writes change the server's `changeCounter`, the server's own do not.
    public func secondConnection() throws -> Store {
        try Store(path: directory + "/enclave.db", keyRing: keyRing)
    }

    /// Every durable audit record's event, oldest first (origins as the log keeps them: pseudonymised).
    public func events() throws -> [AuditEvent] {
        try AuditReader.search(directory: log.directory, query: AuditQuery()).map(\.event)
    }

    /// The messages of conversation `id` (a wire id, as `SendSummary` names it).
    public func history(of id: String) async throws -> [MessageRecord] {
        guard let id = ConversationID(rawValue: id) else { return [] }
        return try await store.history(id)
    }

    /// Conversation `id`'s summary (a wire id, as `SendSummary` names it).
    public func conversation(_ id: String) async throws -> ConversationSummary? {
        guard let id = ConversationID(rawValue: id) else { return nil }
        return try await store.conversation(id)
    }

    /// The messages of the owner's only conversation (or of its newest, when there are several).
    public func latestHistory(of owner: String) async throws -> [MessageRecord] {
        guard let newest = try await store.conversations(owner: owner).max(by: { $0.created < $1.created }) else {
            return []
        }
        return try await store.history(newest.id)
    }
}

/// The real audit log with hooks: writes of chosen actions (or all) fail as a full disk would, and a
/// callback sees each record as it is submitted. A record that is not failed goes to the log unchanged.
public final class HookedAudit: AuditTrail {
    public let log: AuditLog
    private struct Hooks {
        var failing: Set<String> = []
        var failAll = false
        var submitted: (@Sendable (AuditEvent) -> Void)?
    }
    private let hooks = Mutex(Hooks())

    public init(_ log: AuditLog) { self.log = log }

    /// Whether every write fails from now on.
    public func setFailing(_ value: Bool) { hooks.withLock { $0.failAll = value } }

    /// Writes of these actions fail from now on.
    public func fail(actions: Set<String>) { hooks.withLock { $0.failing = actions } }

    /// `body` sees every record when it is submitted (before a failure, if it fails).
    public func onSubmit(_ body: @escaping @Sendable (AuditEvent) -> Void) {
        hooks.withLock { $0.submitted = body }
    }

    public var directory: String { log.directory }

    public func submit(_ event: AuditEvent) throws -> AuditTicket {
        let (fails, submitted) = hooks.withLock { ($0.failAll || $0.failing.contains(event.action), $0.submitted) }
        submitted?(event)
        if fails { throw CocoaError(.fileWriteOutOfSpace) }
        return try log.submit(event)
    }

    public func durable(_ ticket: AuditTicket) async throws -> UInt64 { try await log.durable(ticket) }
    public func pseudonym(_ value: String) throws -> String { try log.pseudonym(value) }
    public func verify() throws -> AuditVerificationReport { try log.verify() }
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

    public func reload() -> PolicyLoadResult {
        PolicyLoadResult(ok: true, sha256: nil, previousSHA256: nil, issues: [], candidateSHA256: "on-prem-only")
    }
}
