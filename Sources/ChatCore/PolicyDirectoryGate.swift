// ChatCore's view of the Policy library: the policy set of a directory of YAML files, held
// by a PolicyStore. A reload that fails keeps the last good policy, but until the files load again
// every decision is restricted to on-prem providers (rule `fail-closed:policy-invalid`); with no valid
// policy at all, only on-prem providers. Every reload, whatever triggered it (`/reload`, SIGHUP, a file
// change), produces the same audit record (`policyReloadEntry`).
public import Audit
import Foundation
public import Policy

/// The policies of one directory, as ChatCore consults them.
public final class PolicyDirectoryGate: Sendable {
    public let directory: String
    /// The serving policy and the state of the files on disk.
    public let store: PolicyStore

    /// Loads `directory` at once; on failure the gate starts with no policy (on-prem only). Read
    /// `store.lastResult` to report or audit the outcome.
    /// - Parameter providers: the server's registry; when given, a policy whose rules name a provider
    ///   not in it is rejected at load and at every reload, with that error (not only failed closed).
    public init(directory: String, providers: [ProviderDescriptor]? = nil) {
        self.directory = directory
        store = PolicyStore(loading: directory, providers: providers)
    }

    /// The SHA-256 of the serving policy, nil when none is loaded.
    public var sha256: String? {
        get async { await store.sha256 }
    }

    /// Runs the detectors outside the store's actor, so messages of different connections are checked
    /// in parallel.
    public func detect(_ text: String) async throws(PolicyError) -> Detection {
        guard let current = await store.current else { return Detection() }
        return try current.detect(text)
    }

    /// The tags the serving policy declares; none without a policy.
    public func declaredTags() async -> Set<String>? {
        Set(await store.current?.tags.keys.map { $0 } ?? [])
    }

    public func defaultTags(user: String, groups: [String]) async -> Set<String> {
        await store.current?.defaultTags(user: user, groups: groups) ?? []
    }

    public func decide(_ request: DecisionRequest) async -> Decision {
        await store.decide(request)
    }

    /// `/reload`: the same load as every other trigger's.
    public func reload() async -> PolicyLoadResult {
        await store.reload()
    }

    /// The audit record of one load attempt; the same action and fields for every trigger.
    /// - Parameters:
    ///   - actor: the admin's name for `/reload`; `sighup`, `file-change` or `startup` otherwise.
    public static func policyReloadEntry(
        _ result: PolicyLoadResult, actor: String, role: String = "system", origin: String = "local"
    ) -> AuditEvent {
        AuditEvent(
            actor: actor, role: role, origin: origin, action: policyReloadAction, subject: result.auditSubject,
            outcome: result.ok ? "ok" : "failed")
    }

    /// The audit action of every policy load and rejection.
    public static let policyReloadAction = "policy.reload"
}
