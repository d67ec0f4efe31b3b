// Steps 4-7 of sending a message: the gateway routes and serves it (with fallback inside the allowed
// set); ChatCore writes a `model.decision` record before every attempt (no audit, no call), a
// `model.call` record after every attempt whatever its outcome, streams text to the client, and seals
// what was produced. A refusal before any attempt is audited as a denied decision.
import Foundation

/// What every call record of one message shares.
struct CallContext {
    var user: Principal
    var origin: String
    var conversation: String
    var rule: String
    var tags: [String]
    var detectorCounts: [String: Int]

    /// The audit fields of `attempt` under this decision.
    func fields(_ attempt: ModelAttempt) -> CallFields {
        CallFields(
            modelID: attempt.modelID, promptVersion: attempt.promptVersion, provider: attempt.provider.name,
            residency: attempt.provider.residency, canaryArm: attempt.canaryArm, decision: "allowed", rule: rule,
            tags: tags, detectorCounts: detectorCounts, tokensIn: attempt.tokensIn, tokensOut: attempt.tokensOut,
            ttftMs: attempt.ttftMs, totalMs: attempt.totalMs, costMicros: attempt.costMicros,
            errorCode: attempt.errorCode)
    }
}

extension ChatCore {
    /// Serves `call` through the gateway, auditing every attempt, and stores the reply (or as much of it as
    /// reached the user). Throws the failure the user sees.
    func serve(
        _ call: ModelCall, context: CallContext, emit: (ChatOutput) async throws -> Void, shouldStop: () -> Bool
    ) async throws(ChatFailure) -> ModelReply {
        let subject = "conversation:\(context.conversation)"
        let user = context.user
        var auditFailed = false
        let reply: ModelReply
        do {
            reply = try await gateway.run(
                call,
                beforeAttempt: { attempt in
                    try await record(
                        actor: user.name, role: user.role.rawValue, origin: context.origin, action: "model.decision",
                        subject: subject, outcome: "allowed", call: context.fields(attempt))
                    var notice = "provider=\(attempt.provider.name) residency=\(attempt.provider.residency)"
                    notice += " rule=\(context.rule)"
                    if attempt.attempt > 0 { notice += " fallback=\(attempt.attempt)" }
                    do {
                        try await emit(.notice(notice))
                    } catch {
                        throw ChatFailure(.internal, "the client went away")
                    }
                },
                afterAttempt: { attempt in
                    do {
                        try await record(
                            actor: user.name, role: user.role.rawValue, origin: context.origin, action: "model.call",
                            subject: subject, outcome: attempt.outcome, call: context.fields(attempt))
                    } catch {
                        auditFailed = true
                    }
                },
                onText: { piece in
                    do {
                        try await emit(.text(piece))
                    } catch {
                        throw ChatStop("disconnected")
                    }
                    if shouldStop() { throw ChatStop("shutdown") }
                })
        } catch let error as ModelCallError {
            switch error {
            case .refused(let failure):
                let fields = CallFields(
                    modelID: "-", promptVersion: "-", provider: call.requested ?? "-", residency: "-",
                    decision: "denied", rule: context.rule, tags: context.tags,
                    detectorCounts: context.detectorCounts, errorCode: failure.code.rawValue)
                try await record(
                    actor: user.name, role: user.role.rawValue, origin: context.origin, action: "model.decision",
                    subject: subject, outcome: "denied", call: fields)
                throw failure
            case .failed(let failure, let partial):
                if !partial.isEmpty {
                    try await storeReply(partial, of: nil, in: context.conversation)
                    throw ChatFailure(
                        failure.code, "the provider failed in the middle of the reply; the text above is incomplete")
                }
                throw failure
            }
        } catch let failure as ChatFailure {
            throw failure
        } catch {
            throw .internal()
        }
        try await storeReply(reply.reply, of: reply.served, in: context.conversation)
        if auditFailed { throw .internal() }
        return reply
    }

    /// Seals and appends the assistant's reply (skipped when empty).
    private func storeReply(_ text: String, of attempt: ModelAttempt?, in id: String) async throws(ChatFailure) {
        guard !text.isEmpty else { return }
        _ = try await step {
            try await conversations.append(
                DraftMessage(
                    role: "assistant", body: text, provider: attempt?.provider.name, modelID: attempt?.modelID,
                    promptVersion: attempt?.promptVersion, tokensIn: attempt?.tokensIn, tokensOut: attempt?.tokensOut),
                to: id)
        }
    }
}
