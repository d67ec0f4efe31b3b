// A gateway for test doubles: a fixed choice and one stream, with a `run` that chooses a provider inside the
// allowed set, announces the attempt, streams it and reports how it ended. No fallback and no health state;
// the real routing (plans, fallback, circuit breakers) is ProviderGateway's. Test support only.
public import ChatCore
import Foundation

/// What a test double provides; `run` below makes the one attempt.
public protocol SimpleModelGateway: ModelGateway {
    /// Picks a provider from `decision.allowed`; nil when none of the allowed ones is available.
    func choose(decision: GateDecision, requested: String?, sticky: String?, conversation: String) async
        -> ProviderSummary?
    /// The prompt version recorded with every call.
    var promptVersion: String { get }
    func stream(provider: String, turns: [PromptTurn], maxTokens: Int) -> AsyncThrowingStream<GatewayEvent, any Error>
}

extension SimpleModelGateway {
    public func run(
        _ call: ModelCall, beforeAttempt: (ModelAttempt) async throws -> Void,
        afterAttempt: (ModelAttempt) async -> Void, onText: (String) async throws -> Void
    ) async throws -> ModelReply {
        let decision = call.decision
        guard
            let chosen = await choose(
                decision: decision, requested: call.requested, sticky: call.sticky, conversation: call.conversation)
        else {
            let blocked =
                decision.allowed.isEmpty || (call.requested.map { decision.denied[$0] != nil } ?? false)
            if blocked {
                let rule = call.requested.flatMap { decision.denied[$0] } ?? decision.rule
                throw ModelCallError.refused(
                    ChatFailure.policyBlocked(
                        rule: rule, tags: decision.tags, provider: call.requested, reason: decision.reason))
            }
            throw ModelCallError.refused(
                ChatFailure(.providerUnavailable, "no allowed provider is available now; try again later"))
        }
        var attempt = ModelAttempt(provider: chosen, modelID: chosen.modelID, promptVersion: promptVersion)
        try await beforeAttempt(attempt)
        let started = ContinuousClock.now
        var reply = ""
        var stop: String?
        do {
            events: for try await event in stream(
                provider: chosen.name, turns: call.history + [PromptTurn(role: "user", content: call.message)],
                maxTokens: call.maxTokens)
            {
                switch event {
                case .text(let piece):
                    if attempt.ttftMs == nil { attempt.ttftMs = ChatCore.milliseconds(ContinuousClock.now - started) }
                    reply += piece
                    do {
                        try await onText(piece)
                    } catch {
                        stop = (error as? ChatStop)?.reason ?? "disconnected"
                        break events
                    }
                case .usage(let tokensIn, let tokensOut):
                    attempt.tokensIn = tokensIn
                    attempt.tokensOut = tokensOut
                case .stopped(let reason):
                    stop = reason
                }
            }
            attempt.outcome = "ok"
        } catch {
            attempt.outcome = "failed"
            attempt.errorCode = "provider-error"
        }
        attempt.totalMs = ChatCore.milliseconds(ContinuousClock.now - started)
        await afterAttempt(attempt)
        guard attempt.outcome == "ok" else {
            throw ModelCallError.failed(
                ChatFailure(.providerUnavailable, "the provider failed while answering; try again"),
                partialReply: reply)
        }
        return ModelReply(served: attempt, reply: reply, stop: stop)
    }
}
