// The back ends a ChatCore test runs on: the real Store (sealed SQLite) and the real hash-chained AuditLog
// in a temporary directory, the log behind `HookedAudit` so that a test can make its writes fail (no audit
// means no action) or see when a record is submitted, and the real policy gate over policy files the test
// writes there. Test support only: nothing shipped uses them.
public import Audit
public import ChatCore
import EnclaveCrypto
import Foundation
import Policy
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

/// Policy files in the shipped schema (see policies/), for tests that need a policy of their own.
public enum TestPolicies {
    /// Every untagged conversation goes on-prem only (rule `on-prem-only`). No detector runs; the tags `phi`
    /// and `pii` may be set by hand (`/tag`), and no rule names them, which also means on-prem only.
    public static let onPremOnly = """
        version: 1
        tags:
          phi: {description: Set by hand in tests.}
          pii: {description: Set by hand in tests.}
        rules:
          - name: on-prem-only
            when: {untagged: true}
            allow: {residency: [on-prem]}
        """

    /// Every conversation may reach exactly `providers` (rule `allow-list`, or `allow-list-pii` once the word
    /// "secret" has tagged it `pii`).
    public static func allowing(_ providers: [String]) -> String {
        let list = providers.joined(separator: ", ")
        return """
            version: 1
            tags:
              pii:
                detectors: [secret-word]
            detectors:
              secret-word:
                type: keywords
                keywords: [secret]
            rules:
              - name: allow-list
                when: {untagged: true}
                allow: {providers: [\(list)]}
              - name: allow-list-pii
                when: {tags: {any: [pii]}}
                allow: {providers: [\(list)]}
            """
    }
}

extension TestPolicies {
    /// The real policy gate over `yaml`, written as the one file of `<directory>/policies`; throws when the
    /// file does not load.
    public static func gate(_ yaml: String = onPremOnly, in directory: String) async throws -> PolicyDirectoryGate {
        let policies = directory + "/policies"
        try FileManager.default.createDirectory(atPath: policies, withIntermediateDirectories: true)
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: policies + "/policy.yaml"))
        let gate = PolicyDirectoryGate(directory: policies)
        let result = await gate.store.lastResult
        guard let result, result.ok else { throw TestPolicyError(issues: result?.issues.map { "\($0)" } ?? []) }
        return gate
    }
}

extension TestBackends {
    /// The real policy gate over `yaml`, in this test's directory.
    public func policy(_ yaml: String = TestPolicies.onPremOnly) async throws -> PolicyDirectoryGate {
        try await TestPolicies.gate(yaml, in: directory)
    }
}

/// The test's own policy file did not load.
public struct TestPolicyError: Error, CustomStringConvertible {
    public let issues: [String]
    public var description: String { "the test policy does not load: " + issues.joined(separator: "; ") }
}
