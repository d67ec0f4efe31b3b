// The record of one provider call, success or failure, as DESIGN.md §6 lists it: what model
// answered, under which prompt version, where it ran, which canary arm and policy rule routed it,
// the tokens, the latency, the cost and the outcome. It holds no message text. The chat core writes
// one to the audit log before the call (outcome `started`) and one after it. Of the reply it keeps only
// its length and whether it is a refusal, both computed once when the reply finishes.
public import Policy

/// How a call ended.
public enum CallOutcome: String, Sendable, Equatable {
    /// Written before any byte goes to the provider.
    case started
    case ok
    /// Failed; `errorCode` says why. A later fallback may still have served the message.
    case failed
    case cancelled
}

/// One call to one provider.
public struct CallRecord: Sendable, Equatable {
    public var provider: String
    public var residency: Residency
    public var region: String?
    /// The model id the provider reported, else the configured model.
    public var modelID: String
    /// `name.vN` of the system prompt sent.
    public var promptVersion: String
    public var arm: CanaryArm
    /// Why the router chose the plan's primary.
    public var routeReason: RouteReason
    /// The policy rule of the decision, and the conversation's tags at decision time.
    public var rule: String
    public var tags: Set<String>
    /// 0 for the plan's primary, n for the n-th fallback.
    public var attempt: Int
    public var tokensIn: Int
    public var tokensOut: Int
    /// Whether the token counts are our estimate (the provider reported none).
    public var tokensEstimated: Bool
    /// Time to the first text piece, nil if none arrived.
    public var ttftMs: Double?
    public var totalMs: Double
    /// From the provider's price table and the token counts.
    public var cost: Double
    public var outcome: CallOutcome
    /// The stable code of the failure (`provider-timeout`, ...), nil on success.
    public var errorCode: String?
    /// History turns left out to fit the context.
    public var droppedTurns: Int
    /// The reply's length in characters; nil until a reply finished (`ok`).
    public var replyChars: Int?
    /// Whether the finished reply is a refusal (``RefusalDetector``); nil until a reply finished (`ok`).
    public var refusal: Bool?

    public init(
        provider: ProviderInfo, promptVersion: String, plan: RoutePlan, attempt: Int, outcome: CallOutcome = .started
    ) {
        self.provider = provider.name
        residency = provider.residency
        region = provider.region
        modelID = provider.model
        self.promptVersion = promptVersion
        arm = plan.arm
        routeReason = plan.reason
        rule = plan.rule
        tags = plan.tags
        self.attempt = attempt
        tokensIn = 0
        tokensOut = 0
        tokensEstimated = false
        ttftMs = nil
        totalMs = 0
        cost = 0
        self.outcome = outcome
        errorCode = nil
        droppedTurns = 0
        replyChars = nil
        refusal = nil
    }
}
