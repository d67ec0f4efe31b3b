// The decision: which providers may see a conversation, which rule decided, and why. A pure function
// of the policy and the request, so it can be tested exhaustively and replayed from audit records.
//
// How rules combine:
//   - each tag on the conversation is governed by the highest-priority matching rule that names it in
//     `when.tags.any` / `all` (ties: the earlier rule); a tag no rule governs allows on-prem only;
//   - the highest-priority matching rule that names no tag (a general rule: users, groups,
//     `untagged`, `none`) also applies;
//   - a provider is allowed only if every applicable rule allows it (intersection);
//   - an untagged conversation with no general rule, no policy, a detector error or an unknown
//     provider name: on-prem only (fail closed).
// So a tagged conversation reaches an external provider only if, for every one of its tags, a rule
// that names that tag explicitly allows it there.

/// What the policy is asked about one model call.
public struct DecisionRequest: Sendable, Hashable {
    /// The conversation's tags (sticky: everything it ever had, plus this message's findings).
    public var tags: Set<String>
    public var user: String
    public var groups: [String]
    /// The provider the user or router asked for, if any.
    public var requestedProvider: String?
    /// The registry of providers the server knows.
    public var providers: [ProviderDescriptor]
    /// Findings per detector for this message (carried into the decision for the audit record).
    public var detectorCounts: [String: Int]
    /// True when detection failed on this message; the decision then fails closed.
    public var detectionFailed: Bool

    public init(
        tags: Set<String>, user: String, groups: [String] = [], requestedProvider: String? = nil,
        providers: [ProviderDescriptor], detectorCounts: [String: Int] = [:], detectionFailed: Bool = false
    ) {
        self.tags = tags
        self.user = user
        self.groups = groups
        self.requestedProvider = requestedProvider
        self.providers = providers
        self.detectorCounts = detectorCounts
        self.detectionFailed = detectionFailed
    }
}

/// The outcome, with everything an audit record and a `policy-blocked` error need, and no text.
public struct Decision: Sendable, Hashable {
    /// Providers that may see the conversation, most contained first (on-prem, vpc, external), then in
    /// registry order.
    public var allowed: [String]
    /// Provider → the rule that excluded it.
    public var denied: [String: String]
    /// The deciding rule: the one that excluded the requested provider, else the most restrictive one
    /// that applied, else a built-in name (`fail-closed:...`).
    public var rule: String
    /// One sentence for the user or the admin.
    public var reason: String
    public var tags: Set<String>
    public var detectorCounts: [String: Int]
    /// SHA-256 of the policy set that decided, nil when none was loaded.
    public var policySHA256: String?
    /// True when the decision is the built-in most restrictive outcome.
    public var failedClosed: Bool

    /// A decision carried across a boundary (e.g. ChatCore's policy port) and rebuilt for the router.
    public init(
        allowed: [String], denied: [String: String], rule: String, reason: String, tags: Set<String>,
        detectorCounts: [String: Int] = [:], policySHA256: String? = nil, failedClosed: Bool = false
    ) {
        self.allowed = allowed
        self.denied = denied
        self.rule = rule
        self.reason = reason
        self.tags = tags
        self.detectorCounts = detectorCounts
        self.policySHA256 = policySHA256
        self.failedClosed = failedClosed
    }

    /// Whether `provider` may see the conversation.
    public func allows(_ provider: String) -> Bool { allowed.contains(provider) }
}

/// Rule names used when no policy rule decided.
public enum FailClosedRule {
    public static let noPolicy = "fail-closed:no-policy"
    public static let detectorError = "fail-closed:detector-error"
    public static let unknownProvider = "fail-closed:unknown-provider"
    public static let noMatchingRule = "fail-closed:no-matching-rule"
    public static let ungovernedTag = "fail-closed:ungoverned-tag"
}

/// Decides which providers may see a conversation. Pure; never throws; denies by default.
public func evaluate(_ policy: PolicySet?, _ request: DecisionRequest) -> Decision {
    guard let policy else {
        return failClosed(
            request, rule: FailClosedRule.noPolicy, sha: nil,
            reason: "no valid policy is loaded, so only on-prem providers may be used")
    }
    if request.detectionFailed {
        return failClosed(
            request, rule: FailClosedRule.detectorError, sha: policy.sha256,
            reason: "the detectors could not check this message, so only on-prem providers may be used")
    }
    if let requested = request.requestedProvider, !request.providers.contains(where: { $0.name == requested }) {
        return failClosed(
            request, rule: FailClosedRule.unknownProvider, sha: policy.sha256,
            reason: "provider '\(requested)' is not in the registry, so only on-prem providers may be used")
    }

    /// One applicable constraint: the rule's name, what it allows, and what it was applied for.
    struct Constraint {
        var rule: String
        var allowance: RuleAllowance
        var subject: String
    }
    let onPremOnly = RuleAllowance(residency: [.onPrem])
    func best(_ candidates: [PolicyRule]) -> PolicyRule? {
        candidates.min { ($1.priority, $0.order) < ($0.priority, $1.order) }
    }
    let matching = policy.rules.filter {
        $0.when.matches(tags: request.tags, user: request.user, groups: request.groups)
    }
    var constraints: [Constraint] = []
    for tag in request.tags.sorted() {
        if let rule = best(matching.filter { $0.when.governedTags.contains(tag) }) {
            constraints.append(Constraint(rule: rule.name, allowance: rule.allow, subject: "tag '\(tag)'"))
        } else {
            constraints.append(
                Constraint(
                    rule: FailClosedRule.ungovernedTag, allowance: onPremOnly,
                    subject: "tag '\(tag)' (no rule governs it)"))
        }
    }
    if let general = best(matching.filter { $0.when.governedTags.isEmpty }) {
        let subject = request.tags.isEmpty ? "an untagged conversation" : "this user"
        constraints.append(Constraint(rule: general.name, allowance: general.allow, subject: subject))
    } else if request.tags.isEmpty {
        return failClosed(
            request, rule: FailClosedRule.noMatchingRule, sha: policy.sha256,
            reason: "no rule applies to this untagged conversation, so only on-prem providers may be used")
    }

    var allowed: [ProviderDescriptor] = []
    var denied: [String: String] = [:]
    for provider in request.providers {
        if let blocking = constraints.first(where: { !$0.allowance.allows(provider) }) {
            denied[provider.name] = blocking.rule
        } else if provider.residency == .external, !request.tags.isEmpty,
            !constraints.allSatisfy({ $0.rule != FailClosedRule.ungovernedTag })
        {
            denied[provider.name] = FailClosedRule.ungovernedTag
        } else {
            allowed.append(provider)
        }
    }
    let orderedAllowed = allowed.enumerated().sorted {
        ($0.element.residency, $0.offset) < ($1.element.residency, $1.offset)
    }
    .map(\.element.name)

    let tagList = request.tags.isEmpty ? "no tags" : "tags " + request.tags.sorted().joined(separator: ", ")
    let deciding: Constraint
    let reason: String
    if let requested = request.requestedProvider, let blockingRule = denied[requested],
        let constraint = constraints.first(where: { $0.rule == blockingRule })
    {
        let residency = request.providers.first { $0.name == requested }?.residency.rawValue ?? "?"
        deciding = constraint
        reason =
            "rule '\(constraint.rule)' allows only \(describe(constraint.allowance)) for \(constraint.subject); "
            + "'\(requested)' is \(residency) (\(tagList))"
    } else {
        let restrictiveness = constraints.map { c in request.providers.filter { c.allowance.allows($0) }.count }
        let index = restrictiveness.indices.min { (restrictiveness[$0], $0) < (restrictiveness[$1], $1) } ?? 0
        deciding = constraints[index]
        let target =
            request.requestedProvider.map { "'\($0)' is allowed" }
            ?? "allowed: \(orderedAllowed.joined(separator: ", "))"
        reason =
            "rule '\(deciding.rule)' allows \(describe(deciding.allowance)) for \(deciding.subject); \(target) (\(tagList))"
    }
    return Decision(
        allowed: orderedAllowed, denied: denied, rule: deciding.rule, reason: reason, tags: request.tags,
        detectorCounts: request.detectorCounts, policySHA256: policy.sha256,
        failedClosed: deciding.rule.hasPrefix("fail-closed:"))
}

private func describe(_ allowance: RuleAllowance) -> String {
    var parts: [String] = []
    if !allowance.residency.isEmpty {
        var text = allowance.residency.sorted().map(\.rawValue).joined(separator: "/")
        if let regions = allowance.regions { text += " in " + regions.sorted().joined(separator: "/") }
        parts.append(text)
    }
    if !allowance.providers.isEmpty {
        parts.append("providers " + allowance.providers.sorted().joined(separator: ", "))
    }
    return parts.joined(separator: " or ")
}

private func failClosed(_ request: DecisionRequest, rule: String, sha: String?, reason: String) -> Decision {
    var allowed: [String] = []
    var denied: [String: String] = [:]
    for provider in request.providers {
        if provider.residency == .onPrem { allowed.append(provider.name) } else { denied[provider.name] = rule }
    }
    return Decision(
        allowed: allowed, denied: denied, rule: rule, reason: reason, tags: request.tags,
        detectorCounts: request.detectorCounts, policySHA256: sha, failedClosed: true)
}
