// The decision as a running server makes it: the last good policy, restricted while the policy files
// on disk do not load. An invalid policy never replaces the serving one, but an admin who broke a file
// (or deleted one) did not mean to keep everything open either, so until the files load again every
// decision is what the last good policy allows at on-prem residency, under the rule
// `fail-closed:policy-invalid`. The reason reaches staff in `ERR policy-blocked`, so it names no
// policy file or line: those are for admins (`/reload`, `policy check`, the `policy.reload` audit
// record). A later valid load lifts the restriction. With no valid policy at all, only on-prem
// providers, same rule.
internal import EnclaveCrypto

extension FailClosedRule {
    /// The policy files on disk do not load; only on-prem providers until they do.
    public static let policyInvalid = "fail-closed:policy-invalid"
}

/// Decides for a server that serves `policy` (its last good policy, if any) while the files on disk
/// are in the state `loadFailure` describes (nil: they loaded). Also treats provider names in rules
/// that the registry does not know as a load failure. Pure; never throws; denies by default.
public func evaluate(_ policy: PolicySet?, _ request: DecisionRequest, loadFailure: PolicyError?) -> Decision {
    var failure = loadFailure
    if failure == nil, let policy {
        let unknown = policy.providerIssues(request.providers)
        if !unknown.isEmpty { failure = PolicyError.load(unknown) }
    }
    guard failure != nil else { return evaluate(policy, request) }
    var decision: Decision
    let reason: String
    if let policy {
        decision = evaluate(policy, request)
        reason =
            "the policy files do not load, so the last good policy (\(policy.sha256.prefix(12))) "
            + "serves at on-prem residency only until an admin fixes them"
    } else {
        decision = Decision(
            allowed: request.providers.map(\.name), denied: [:], rule: FailClosedRule.policyInvalid, reason: "",
            tags: request.tags, detectorCounts: request.detectorCounts)
        reason = "no valid policy is loaded, so only on-prem providers may be used"
    }
    let residency = Dictionary(request.providers.map { ($0.name, $0.residency) }) { first, _ in first }
    for name in decision.allowed where residency[name] != .onPrem {
        decision.denied[name] = FailClosedRule.policyInvalid
    }
    decision.allowed.removeAll { residency[$0] != .onPrem }
    decision.rule = FailClosedRule.policyInvalid
    decision.reason = reason
    decision.failedClosed = true
    return decision
}

extension PolicySet {
    /// SHA-256 over file names and contents in load order: the same fingerprint a loaded policy gets,
    /// so a rejected set can be named in the audit log too. Empty when hashing fails (no memory).
    public static func fingerprint(files: [(name: String, contents: String)]) -> String {
        var input: [UInt8] = []
        for file in files {
            // The name relative to the directory: the fingerprint must not change with how its path was typed.
            let relative = file.name.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
            input += Array(relative.utf8) + [0] + Array(file.contents.utf8) + [0]
        }
        return (try? SHA256.hash(input))?.hexString ?? ""
    }

    /// The fingerprint of what is on disk in `directory` now, nil when it cannot be read.
    public static func fingerprint(directory: String) -> String? {
        guard let files = try? readDirectory(directory) else { return nil }
        return fingerprint(files: files)
    }
}
