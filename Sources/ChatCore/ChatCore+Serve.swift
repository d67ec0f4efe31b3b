// Steps 1 and 4-7 of sending a message: the gateway routes and serves it (with fallback inside the
// allowed set); ChatCore stores the user's message and writes a `model.decision` record before every
// attempt (no audit, no call), a `model.call` record after every attempt whatever its outcome, streams
// text to the client, and seals what was produced. A refusal before any attempt is audited as a denied
// decision. Durable writes that do not depend on each other run side by side (see `serve`).
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
            errorCode: attempt.errorCode, replyChars: attempt.replyChars, refusal: attempt.refusal)
    }
}

extension ChatCore {
    /// Stores the user's `message` and serves `call` through the gateway, auditing every attempt, and stores
    /// the reply (or as much of it as reached the user). Throws the failure the user sees.
    ///
    /// Two pairs of durable writes overlap: before the first attempt the message's commit and the decision
    /// record (the provider sees nothing unless both succeeded), and after the served attempt the reply's
    /// commit and its call record (this returns only when both succeeded). A finished attempt's call record
    /// is held back until the next decision record or the end, so the log's order is unchanged. On paths
    /// with no attempt (a refusal, a cancellation) the message is stored on its own, first.
    func serve(
        _ call: ModelCall, context: CallContext, message: DraftMessage, emit: (ChatOutput) async throws -> Void,
        shouldStop: () -> Bool
    ) async throws(ChatFailure) -> ModelReply {
        let subject = "conversation:\(context.conversation)"
        let user = context.user
        var auditFailed = false
        var messageStored = false
        var messageFailed = false
        // The last finished attempt whose call record is not written yet.
        var unrecorded: ModelAttempt?
        let reply: ModelReply
        do {
            reply = try await gateway.run(
                call,
                beforeAttempt: { attempt in
                    if let finished = unrecorded.take(), await !recordCall(finished, context: context) {
                        auditFailed = true
                    }
                    // The decision record is written on the audit log's thread while this one commits the
                    // message; both must be durable before the provider is called.
                    let decision = audit.begin(decisionEntry(attempt, context: context))
                    if !messageStored {
                        if let failure = await store(message, in: context.conversation) {
                            messageFailed = true
                            _ = try? await decision.durable()
                            throw failure
                        }
                        messageStored = true
                    }
                    try await durable(decision)
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
                    ChatMetrics.attempt(attempt)
                    if let finished = unrecorded.take(), await !recordCall(finished, context: context) {
                        auditFailed = true
                    }
                    unrecorded = attempt
                },
                onText: { piece in
                    do {
                        try await emit(.text(piece))
                    } catch let stop as ChatStop {
                        throw stop
                    } catch {
                        throw ChatStop("disconnected")
                    }
                    if shouldStop() { throw ChatStop("shutdown") }
                })
        } catch {
            // No attempt is left to run: write what is held back, in the order it would have been written.
            if let finished = unrecorded.take() { _ = await recordCall(finished, context: context) }
            if !messageStored && !messageFailed, let failure = await store(message, in: context.conversation) {
                throw failure
            }
            switch error {
            case ModelCallError.refused(let failure):
                if failure.code == .policyBlocked { ChatMetrics.block(rule: context.rule) }
                let fields = CallFields(
                    modelID: "-", promptVersion: "-", provider: call.requested ?? "-", residency: "-",
                    decision: "denied", rule: context.rule, tags: context.tags,
                    detectorCounts: context.detectorCounts, errorCode: failure.code.rawValue)
                try await record(
                    actor: user.name, role: user.role.rawValue, origin: context.origin, action: "model.decision",
                    subject: subject, outcome: "denied", call: fields)
                throw failure
            case ModelCallError.failed(let failure, let partial):
                if !partial.isEmpty {
                    try await storeReply(partial, of: nil, in: context.conversation)
                    try await tagReply(partial, in: context.conversation, known: Set(context.tags))
                    throw ChatFailure(
                        failure.code, "the provider failed in the middle of the reply; the text above is incomplete")
                }
                throw failure
            case let failure as ChatFailure:
                throw failure
            default:
                throw .internal(error)
            }
        }
        // The last call record is written on the audit log's thread while this one commits the reply.
        let call = unrecorded.take().map { audit.begin(callEntry($0, context: context)) }
        let replyFailure = await storeReplyFailure(reply.reply, of: reply.served, in: context.conversation)
        if let call, (try? await call.durable()) == nil { auditFailed = true }
        if let replyFailure { throw replyFailure }
        if auditFailed { throw .internal() }
        return reply
    }

    /// The `model.decision` record of an attempt about to start.
    private func decisionEntry(_ attempt: ModelAttempt, context: CallContext) -> AuditEntry {
        AuditEntry(
            actor: context.user.name, role: context.user.role.rawValue, origin: context.origin,
            action: "model.decision", subject: "conversation:\(context.conversation)", outcome: "allowed",
            call: context.fields(attempt))
    }

    /// The `model.call` record of a finished attempt.
    private func callEntry(_ attempt: ModelAttempt, context: CallContext) -> AuditEntry {
        AuditEntry(
            actor: context.user.name, role: context.user.role.rawValue, origin: context.origin,
            action: "model.call", subject: "conversation:\(context.conversation)", outcome: attempt.outcome,
            call: context.fields(attempt))
    }

    /// Writes the `model.call` record of a finished attempt; false when it could not be written.
    private func recordCall(_ attempt: ModelAttempt, context: CallContext) async -> Bool {
        (try? await audit.begin(callEntry(attempt, context: context)).durable()) != nil
    }

    /// Seals and appends `message`; returns the failure instead of throwing it (so that the audit record
    /// begun beside it is still waited for).
    private func store(_ message: DraftMessage, in id: String) async -> ChatFailure? {
        do {
            _ = try await step { try await conversations.append(message, to: id) }
            return nil
        } catch {
            return error
        }
    }

    /// `storeReply`, returning the failure instead of throwing it.
    private func storeReplyFailure(_ text: String, of attempt: ModelAttempt?, in id: String) async -> ChatFailure? {
        do {
            try await storeReply(text, of: attempt, in: id)
            return nil
        } catch {
            return error
        }
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
