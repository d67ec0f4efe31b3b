// Binds ChatCore's ModelGateway to the Routing library. For each message the Router plans inside the
// policy's allowed set (the user's `/model`, refused when not allowed; else the conversation's sticky
// provider; else the canary arm for an eligible conversation of an eligible user; else the default;
// fallbacks of no wider residency), skipping providers whose circuit breaker is open (ProviderHealth);
// the CallExecutor then fits the conversation into each candidate's context with that route's system
// prompt, announces every attempt before any byte leaves, streams, and falls back before the first
// text piece only.
import Foundation
import Inference
import Policy
public import Routing

/// Routing's registry, prompts and breakers as ChatCore's `ModelGateway`.
public struct ProviderGateway: ModelGateway {
    public let registry: ProviderRegistry
    public let prompts: PromptLibrary
    public let health: ProviderHealth
    private let executor: CallExecutor

    public init(registry: ProviderRegistry, prompts: PromptLibrary, health: ProviderHealth = ProviderHealth()) {
        self.registry = registry
        self.prompts = prompts
        self.health = health
        executor = CallExecutor(registry: registry, prompts: prompts, health: health)
    }

    /// A gateway over ready-made providers that all use one system prompt (`name.vN` in `promptVersion`).
    public init(
        providers: [any ChatProvider], defaultProvider: String, systemPrompt: String, promptVersion: String,
        canary: CanaryConfiguration? = nil, health: ProviderHealth = ProviderHealth()
    ) {
        let reference = PromptReference(promptVersion) ?? PromptReference(name: "assistant", version: 1)
        let selection = PromptSelection(defaultPrompt: reference)
        self.init(
            registry: ProviderRegistry(
                providers: providers, defaultProvider: defaultProvider, canary: canary, prompts: selection),
            prompts: PromptLibrary(
                prompts: [SystemPrompt(reference: reference, text: systemPrompt)], selection: selection),
            health: health)
    }

    /// The pure router every choice goes through.
    public var router: Router { registry.router }

    public func providers() -> [ProviderSummary] {
        registry.providers.map { Self.summary($0.info) }
    }

    public func unavailable() -> Set<String> { health.unavailable() }

    public func run(
        _ call: ModelCall, beforeAttempt: (ModelAttempt) async throws -> Void,
        afterAttempt: (ModelAttempt) async -> Void, onText: (String) async throws -> Void
    ) async throws -> ModelReply {
        let decision = Decision(
            allowed: call.decision.allowed, denied: call.decision.denied, rule: call.decision.rule,
            reason: call.decision.reason, tags: call.decision.tags)
        let request = RouteRequest(
            conversation: call.conversation, user: call.user, groups: call.groups,
            requestedProvider: call.requested, stickyProvider: call.sticky)
        let plan: RoutePlan
        do {
            plan = try router.plan(request, decision: decision, unavailable: health.unavailable())
        } catch {
            throw ModelCallError.refused(Self.failure(error, reason: call.decision.reason))
        }
        do {
            let result = try await executor.run(
                plan: plan, history: call.history.map(Self.turn), message: call.message, maxTokens: call.maxTokens,
                beforeCall: { try await beforeAttempt(Self.attempt($0)) },
                afterCall: { await afterAttempt(Self.attempt($0)) },
                onText: { piece in
                    do {
                        try await onText(piece)
                    } catch let stop as ChatStop {
                        throw CallStop(stop.reason)
                    }
                })
            var stop = result.stop
            if stop == nil, result.record.tokensOut >= call.maxTokens { stop = "max-tokens" }
            return ModelReply(served: Self.attempt(result.record), reply: result.reply, stop: stop)
        } catch let failure as CallFailure {
            throw ModelCallError.failed(
                Self.failure(failure.error, reason: call.decision.reason), partialReply: failure.partialText)
        }
    }

    /// What the user sees for a routing error; `reason` is the policy decision's own explanation.
    private static func failure(_ error: RoutingError, reason: String) -> ChatFailure {
        switch error {
        case .policyBlocked(let provider, let rule, let tags):
            return ChatFailure.policyBlocked(rule: rule, tags: tags, provider: provider, reason: reason)
        case .providerUnavailable(let reason):
            return ChatFailure(
                .providerUnavailable, "no allowed provider is available now (\(reason)); try again later")
        case .unknownProvider:
            return ChatFailure(.notFound, error.message)
        case .contextOverflow:
            return ChatFailure(.badArguments, error.message)
        }
    }

    private static func summary(_ info: ProviderInfo) -> ProviderSummary {
        ProviderSummary(
            name: info.name, residency: info.residency.rawValue, region: info.region, modelID: info.model,
            settings: (["ctx=\(info.contextLength)"] + info.settings).joined(separator: " "))
    }

    /// A call record as ChatCore's attempt (cost rounded to millionths).
    static func attempt(_ record: CallRecord) -> ModelAttempt {
        ModelAttempt(
            provider: ProviderSummary(
                name: record.provider, residency: record.residency.rawValue, region: record.region,
                modelID: record.modelID),
            modelID: record.modelID, promptVersion: record.promptVersion, canaryArm: record.arm.rawValue,
            attempt: record.attempt, outcome: record.outcome.rawValue,
            tokensIn: record.outcome == .started ? nil : record.tokensIn,
            tokensOut: record.outcome == .started ? nil : record.tokensOut,
            ttftMs: record.ttftMs.map { Int($0.rounded()) },
            totalMs: record.outcome == .started ? nil : Int(record.totalMs.rounded()),
            costMicros: record.outcome == .started ? nil : Int((record.cost * 1_000_000).rounded()),
            errorCode: record.errorCode, replyChars: record.replyChars, refusal: record.refusal)
    }

    private static func turn(_ turn: PromptTurn) -> ChatTurn {
        let role: ChatRole =
            switch turn.role {
            case "assistant": .assistant
            case "system": .system
            default: .user
            }
        return ChatTurn(role: role, content: turn.content)
    }
}
