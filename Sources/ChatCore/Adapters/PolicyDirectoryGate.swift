// Binds ChatCore's PolicyGate to the Policy library: the policy set loaded from a directory of YAML
// files, reloaded on demand, keeping the last good one when a reload fails. With no valid policy at
// all, `evaluate` fails closed (on-prem only), so a broken start-up never opens the external path.
import Foundation
import Policy

/// The policies of one directory, as ChatCore consults them.
public actor PolicyDirectoryGate: PolicyGate {
    public let directory: String
    private var current: PolicySet?

    /// Loads `directory`; on failure the gate starts with no policy (fail closed) and rethrows nothing:
    /// read `loadError` to report the problem.
    public init(directory: String) {
        self.directory = directory
        current = try? PolicySet.load(directory: directory)
    }

    /// The SHA-256 of the loaded policy, nil when none is loaded.
    public var sha256: String? { current?.sha256 }

    public func detect(_ text: String) throws -> TagResult {
        guard let current else { return TagResult(tags: [], detectorCounts: [:]) }
        let detection = try current.detect(text)
        return TagResult(tags: detection.tags, detectorCounts: detection.countsByDetector)
    }

    public func defaultTags(user: String, groups: [String]) -> Set<String> {
        current?.defaultTags(user: user, groups: groups) ?? []
    }

    public func decide(
        tags: Set<String>, user: String, groups: [String], requested: String?, providers: [ProviderSummary]
    ) -> GateDecision {
        // A provider whose residency class is unknown is left out, so policy can never allow it.
        let descriptors = providers.compactMap { provider in
            Residency(rawValue: provider.residency).map {
                ProviderDescriptor(name: provider.name, residency: $0, region: provider.region)
            }
        }
        let decision = evaluate(
            current,
            DecisionRequest(
                tags: tags, user: user, groups: groups, requestedProvider: requested, providers: descriptors))
        return GateDecision(
            allowed: decision.allowed, denied: decision.denied, rule: decision.rule, reason: decision.reason,
            tags: decision.tags)
    }

    public func reload() throws -> String {
        let loaded = try PolicySet.load(directory: directory)
        current = loaded
        return loaded.sha256
    }
}
