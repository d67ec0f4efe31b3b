// Holds the policy the server is using, and swaps it only for a policy that loaded cleanly. While the
// files on disk do not load, the store remembers why, and `decide` restricts the last good policy to
// on-prem residency (see ServingDecision.swift). Reload is triggered by the server (SIGHUP, `/reload`)
// or by `run()`, which polls the directory's file names, sizes and modification times. The caller
// audits each load with what `reload` returns.
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
    /// SHA-256 of the files this attempt read (the rejected set when not ok); nil when the directory
    /// could not be read.
    public var candidateSHA256: String?

    public init(
        ok: Bool, sha256: String?, previousSHA256: String?, issues: [PolicyIssue], candidateSHA256: String? = nil
    ) {
        self.ok = ok
        self.sha256 = sha256
        self.previousSHA256 = previousSHA256
        self.issues = issues
        self.candidateSHA256 = candidateSHA256
    }

    /// The audit subject every trigger records: the SHA-256 of the set read, and for a rejection the
    /// serving SHA-256 and the first error's place and code (`<sha> serving=<sha|none> error=f:l:code`).
    public var auditSubject: String {
        let candidate = candidateSHA256 ?? "unreadable"
        guard !ok else { return candidate }
        var subject = "\(candidate) serving=\(sha256 ?? "none")"
        if let issue = issues.first {
            let file = issue.file.split(separator: "/").last.map(String.init) ?? issue.file
            subject += " error=\(file):\(issue.line):\(issue.code.rawValue)"
        }
        return subject
    }
}

/// The current policy set, shared by every connection.
public actor PolicyStore {
    /// What to do with the serving policy when a reload fails.
    public enum InvalidPolicyHandling: Sendable {
        /// Keep the last policy that loaded cleanly, restricted to on-prem residency while the files
        /// do not load (the default).
        case keepLastGood
        /// Drop it: every decision fails closed (on-prem only) until a valid policy loads.
        case failClosed
    }

    public let directory: String
    private let providers: [ProviderDescriptor]?
    private let handling: InvalidPolicyHandling
    /// The serving policy; nil before the first successful load (decisions then fail closed).
    public private(set) var current: PolicySet?
    /// Why the files on disk do not load now; nil when the latest attempt succeeded.
    public private(set) var failure: PolicyError?
    /// The latest attempt's result (for auditing the start-up load).
    public private(set) var lastResult: PolicyLoadResult?
    private var fingerprint: [String] = []

    /// Creates an empty store; call `reload()` to load. Loading never happens in this initialiser.
    public init(
        directory: String, providers: [ProviderDescriptor]? = nil, onInvalid: InvalidPolicyHandling = .keepLastGood
    ) {
        self.directory = directory
        self.providers = providers
        self.handling = onInvalid
        failure = PolicyError.load([
            PolicyIssue(
                file: directory, line: 0, column: 0, code: .noFiles, message: "not loaded yet", hint: "call reload()")
        ])
    }

    /// Creates a store and loads `directory` at once; read `lastResult` for the outcome.
    public init(loading directory: String, providers: [ProviderDescriptor]? = nil) {
        self.directory = directory
        self.providers = providers
        self.handling = .keepLastGood
        let attempt = Self.attempt(directory: directory, providers: providers, previous: nil, handling: .keepLastGood)
        current = attempt.policy
        failure = attempt.failure
        lastResult = attempt.result
        fingerprint = attempt.fingerprint
    }

    /// SHA-256 of the serving policy.
    public var sha256: String? { current?.sha256 }

    /// Loads the directory again; on any error keeps the last good policy (or drops it, per
    /// `onInvalid`), remembers the errors (decisions are then restricted) and returns them.
    /// A file of the serving set that has disappeared is an error too: deleting a file must not
    /// silently drop its rules or defaults while serving.
    @discardableResult
    public func reload() -> PolicyLoadResult {
        let attempt = Self.attempt(directory: directory, providers: providers, previous: current, handling: handling)
        current = attempt.policy
        failure = attempt.failure
        lastResult = attempt.result
        fingerprint = attempt.fingerprint
        return attempt.result
    }

    /// The decision under the serving policy and the state of the files (see `evaluate(_:_:loadFailure:)`).
    public func decide(_ request: DecisionRequest) -> Decision {
        evaluate(current, request, loadFailure: failure)
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

    private struct Attempt {
        var policy: PolicySet?
        var failure: PolicyError?
        var result: PolicyLoadResult
        var fingerprint: [String]
    }

    private static func attempt(
        directory: String, providers: [ProviderDescriptor]?, previous: PolicySet?, handling: InvalidPolicyHandling
    ) -> Attempt {
        let stamp = fingerprint(directory)
        let files: [(name: String, contents: String)]
        do throws(PolicyError) {
            files = try PolicySet.readDirectory(directory)
        } catch {
            return rejected(error, candidate: nil, previous: previous, handling: handling, stamp: stamp)
        }
        let candidate = PolicySet.fingerprint(files: files)
        do throws(PolicyError) {
            let policy = try PolicySet.parse(files: files, providers: providers)
            let present = Set(files.map(\.name))
            let missing = (previous?.files ?? []).filter { !present.contains($0) }
            if !missing.isEmpty {
                throw PolicyError.load(
                    missing.map { file in
                        PolicyIssue(
                            file: file, line: 0, column: 0, code: .io, message: "policy file removed while serving",
                            hint: "restore it; to retire a file, leave only `version: 1` in it, or restart the server")
                    })
            }
            let result = PolicyLoadResult(
                ok: true, sha256: policy.sha256, previousSHA256: previous?.sha256, issues: [],
                candidateSHA256: candidate)
            return Attempt(policy: policy, failure: nil, result: result, fingerprint: stamp)
        } catch {
            return rejected(error, candidate: candidate, previous: previous, handling: handling, stamp: stamp)
        }
    }

    private static func rejected(
        _ error: PolicyError, candidate: String?, previous: PolicySet?, handling: InvalidPolicyHandling,
        stamp: [String]
    ) -> Attempt {
        let serving = handling == .failClosed ? nil : previous
        let result = PolicyLoadResult(
            ok: false, sha256: serving?.sha256, previousSHA256: previous?.sha256, issues: error.issues,
            candidateSHA256: candidate)
        return Attempt(policy: serving, failure: error, result: result, fingerprint: stamp)
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
