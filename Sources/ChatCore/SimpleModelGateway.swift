// The one-attempt `run` of a SimpleModelGateway (test doubles, the echo benchmark): choose a provider
// inside the allowed set, announce the attempt, stream it, report how it ended. No fallback and no
// health state; the real routing (plans, fallback, circuit breakers) is ProviderGateway's.
import Foundation

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

/// Thrown by ChatCore's text handler to stop a reply early (`disconnected`, `shutdown`).
public struct ChatStop: Error, Sendable, Equatable {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }
}

extension ChatFailure {
    /// `policy-blocked`, naming the rule, the tags and the policy's reason (never content).
    public static func policyBlocked(rule: String, tags: Set<String>, provider: String? = nil, reason: String = "")
        -> ChatFailure
    {
        let shown = tags.isEmpty ? "none" : tags.sorted().joined(separator: ",")
        let verdict = provider.map { "\($0) is not allowed" } ?? "no provider is allowed"
        let why = reason.isEmpty ? "" : " (\(reason))"
        return ChatFailure(.policyBlocked, "rule=\(rule) tags=\(shown): \(verdict) for this conversation\(why)")
    }
}
