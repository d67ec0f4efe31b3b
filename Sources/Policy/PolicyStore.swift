// Holds the policy the server is using, and swaps it only for a policy that loaded cleanly.
// Reload is triggered by the server (SIGHUP, `/reload`) or by `run()`, which polls the directory's
// file names, sizes and modification times. The caller audits each load with what `reload` returns.
import Foundation

/// The outcome of one load attempt, for the audit record and the admin's reply.
public struct PolicyLoadResult: Sendable, Hashable {
    /// True when the new policy was loaded and is now serving.
    public var ok: Bool
    /// SHA-256 of the policy serving after this attempt (nil: none, requests fail closed).
    public var sha256: String?
    /// SHA-256 of the policy serving before this attempt.
    public var previousSHA256: String?
    /// Problems that caused a rejection (empty when ok).
    public var issues: [PolicyIssue]
}

/// The current policy set, shared by every connection.
public actor PolicyStore {
    /// What to do with the serving policy when a reload fails.
    public enum InvalidPolicyHandling: Sendable {
        /// Keep serving the last policy that loaded cleanly (the default).
        case keepLastGood
        /// Drop it: every decision fails closed (on-prem only) until a valid policy loads.
        case failClosed
    }

    public let directory: String
    private let providers: [ProviderDescriptor]?
    private let handling: InvalidPolicyHandling
    /// The serving policy; nil before the first successful load (decisions then fail closed).
    public private(set) var current: PolicySet?
    private var fingerprint: [String] = []

    /// Creates an empty store; call `reload()` to load. Loading never happens in the initialiser.
    public init(
        directory: String, providers: [ProviderDescriptor]? = nil, onInvalid: InvalidPolicyHandling = .keepLastGood
    ) {
        self.directory = directory
        self.providers = providers
        self.handling = onInvalid
    }

    /// SHA-256 of the serving policy.
    public var sha256: String? { current?.sha256 }

    /// Loads the directory again; on any error keeps the last good policy (or drops it, per
    /// `onInvalid`) and returns the errors.
    @discardableResult
    public func reload() -> PolicyLoadResult {
        let previous = current?.sha256
        fingerprint = Self.fingerprint(directory)
        do throws(PolicyLoadError) {
            let policy = try PolicySet.load(directory: directory, providers: providers)
            current = policy
            return PolicyLoadResult(ok: true, sha256: policy.sha256, previousSHA256: previous, issues: [])
        } catch {
            if handling == .failClosed { current = nil }
            return PolicyLoadResult(ok: false, sha256: current?.sha256, previousSHA256: previous, issues: error.issues)
        }
    }

    /// Whether the files changed since the last load (names, sizes or modification times).
    public func filesChanged() -> Bool { Self.fingerprint(directory) != fingerprint }

    /// Polls for file changes until cancelled, reloading and reporting each change.
    /// - Parameters:
    ///   - interval: time between polls.
    ///   - onReload: receives each result (audit it there).
    public func run(interval: Duration = .seconds(2), onReload: @Sendable (PolicyLoadResult) async -> Void) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            if filesChanged() { await onReload(reload()) }
        }
    }

    private static func fingerprint(_ directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { name in
            let path = (directory as NSString).appendingPathComponent(name)
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(name)|\(size)|\(modified)"
        }
    }
}
