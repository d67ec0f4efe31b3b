// The router: from the policy's decision and the conversation's state to an ordered plan of
// providers. It is pure (no I/O), so it can be tested exhaustively and costs microseconds.
//
// Choice of the primary, first match wins:
//   1. the user's explicit `/model` choice: refused (`policy-blocked`, naming rule and tags) when
//      the decision does not allow it;
//   2. the conversation's sticky provider, while allowed (a conversation stays on its provider);
//   3. the canary, for an eligible conversation whose keyed hash falls in the canary's share;
//   4. the configured default, while allowed;
//   5. the first provider the decision allows, in the decision's order.
// The canary provider is used only by conversations on the canary arm, or by an eligible
// conversation whose user explicitly chose it (recorded as arm `none`: outside the experiment).
// Fallbacks are the other allowed providers (the default first, then the decision's order) whose
// residency is no wider than the primary's: on-prem < vpc < external. Providers known to be down
// are skipped. Nothing outside `decision.allowed` ever enters a plan.
public import Policy

/// What the router needs to know about the message being routed.
public struct RouteRequest: Sendable {
    /// The conversation id (opaque text), the key of canary stickiness.
    public var conversation: String
    public var user: String
    public var groups: [String]
    /// The user's explicit `/model` choice, if any.
    public var requestedProvider: String?
    /// The provider that served this conversation so far, if any.
    public var stickyProvider: String?

    public init(
        conversation: String, user: String, groups: [String] = [], requestedProvider: String? = nil,
        stickyProvider: String? = nil
    ) {
        self.conversation = conversation
        self.user = user
        self.groups = groups
        self.requestedProvider = requestedProvider
        self.stickyProvider = stickyProvider
    }
}

/// Why the primary was chosen.
public enum RouteReason: String, Sendable {
    case explicit, sticky, canary, `default`, allowed
}

/// An ordered plan: try `primary`, then each fallback, stopping at the first success.
public struct RoutePlan: Sendable, Equatable {
    public var primary: String
    public var fallbacks: [String]
    public var arm: CanaryArm
    public var reason: RouteReason
    /// The decision's rule and tags, carried to the call record.
    public var rule: String
    public var tags: Set<String>

    /// Every provider of the plan, in order.
    public var candidates: [String] { [primary] + fallbacks }
}

/// Pure routing over a fixed set of providers.
public struct Router: Sendable {
    public let providers: [ProviderInfo]
    public let defaultProvider: String
    public let canary: CanaryConfiguration?
    private let byName: [String: ProviderInfo]

    public init(providers: [ProviderInfo], defaultProvider: String, canary: CanaryConfiguration? = nil) {
        self.providers = providers
        self.defaultProvider = defaultProvider
        self.canary = canary
        byName = Dictionary(providers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The provider named `name`, if registered.
    public func info(_ name: String) -> ProviderInfo? { byName[name] }

    /// The policy's descriptors of every registered provider, for a `DecisionRequest`.
    public var descriptors: [ProviderDescriptor] { providers.map(\.descriptor) }

    /// Checks a `/model <name>` choice against a decision; throws what the user should see.
    public func validateChoice(_ name: String, request: RouteRequest, decision: Decision) throws(RoutingError) {
        guard byName[name] != nil else { throw RoutingError.unknownProvider(name) }
        guard decision.allowed.contains(name) else {
            throw RoutingError.policyBlocked(
                provider: name, rule: decision.denied[name] ?? decision.rule, tags: decision.tags)
        }
        if let canary, canary.provider == name,
            canary.arm(conversation: request.conversation, tags: decision.tags, groups: request.groups) == .none
        {
            throw RoutingError.policyBlocked(provider: name, rule: "canary.eligible", tags: decision.tags)
        }
    }

    /// The plan for one message.
    /// - Parameters:
    ///   - unavailable: providers known to be down now (failed health checks or calls); skipped.
    public func plan(_ request: RouteRequest, decision: Decision, unavailable: Set<String> = []) throws(RoutingError)
        -> RoutePlan
    {
        let allowed = decision.allowed.filter { byName[$0] != nil }
        guard !allowed.isEmpty else {
            throw RoutingError.policyBlocked(
                provider: request.requestedProvider, rule: decision.rule, tags: decision.tags)
        }
        var arm = canary?.arm(conversation: request.conversation, tags: decision.tags, groups: request.groups) ?? .none
        let canaryName = canary?.provider
        if arm == .canary, let canaryName, !allowed.contains(canaryName) { arm = .control }
        /// The canary provider only ever serves conversations on the canary arm.
        func usable(_ name: String) -> Bool { name != canaryName || arm == .canary }

        let intended: String
        let reason: RouteReason
        if let requested = request.requestedProvider {
            try validateChoice(requested, request: request, decision: decision)
            intended = requested
            reason = .explicit
        } else if let sticky = request.stickyProvider, allowed.contains(sticky), usable(sticky),
            !unavailable.contains(sticky)
        {
            intended = sticky
            reason = sticky == canaryName ? .canary : .sticky
        } else if arm == .canary, let canaryName, !unavailable.contains(canaryName) {
            intended = canaryName
            reason = .canary
        } else if allowed.contains(defaultProvider), usable(defaultProvider) {
            intended = defaultProvider
            reason = .default
        } else if let first = allowed.first(where: usable) {
            intended = first
            reason = .allowed
        } else {
            throw RoutingError.policyBlocked(provider: nil, rule: decision.rule, tags: decision.tags)
        }
        // The arm describes assignment, so a user's explicit choice is outside the experiment.
        if reason == .explicit { arm = .none } else if arm == .canary, intended != canaryName { arm = .control }

        let ceiling = byName[intended]!.residency
        var order = allowed
        if let index = order.firstIndex(of: defaultProvider) { order.insert(order.remove(at: index), at: 0) }
        let fallbacks = order.filter { name in
            name != intended && usable(name) && !unavailable.contains(name) && byName[name]!.residency <= ceiling
        }
        var candidates = [intended] + fallbacks
        candidates.removeAll { unavailable.contains($0) }
        guard let primary = candidates.first else {
            throw RoutingError.providerUnavailable(reason: "\(intended) is down and no allowed fallback exists")
        }
        return RoutePlan(
            primary: primary, fallbacks: Array(candidates.dropFirst()), arm: arm, reason: reason, rule: decision.rule,
            tags: decision.tags)
    }
}
