// Sending one chat message: the walk of DESIGN.md §1, step by step, failing closed at each one.
import Foundation

extension ChatCore {
    /// Sends `text` to `conversation` (created when nil) and streams the reply through `emit`.
    ///
    /// 1. seal + append the user message (durable before anything else)
    /// 2. tag: detectors over the new text; tags only grow and are stored with the conversation
    /// 3. decide which providers may see the conversation (policy, pure)
    /// 4. route inside the allowed set (user choice, sticky provider, default)
    /// 5. audit the decision before any byte goes to a provider; no audit, no call
    /// 6. stream the reply through `emit` (a newline in `.text` starts a new line for the client)
    /// 7. seal + append the reply; audit the call record
    ///
    /// - Parameters:
    ///   - requestedModel: the provider chosen with `/model`, if any.
    ///   - shouldStop: polled between chunks; when it turns true the reply is cut short, stored as far
    ///     as it got, and the summary says `stop=shutdown`.
    /// - Returns: the summary for the final `OK` line (its `conversation` is the one used).
    public func send(
        _ text: String, conversation: String?, requestedModel: String?, as user: Principal, origin: String,
        emit: (ChatOutput) async throws -> Void, shouldStop: () -> Bool = { false }
    ) async throws(ChatFailure) -> SendSummary {
        try limiter.admit(user.name)
        defer { limiter.finish(user.name) }
        let started = ContinuousClock.now

        // 1. The conversation, then the user's message, sealed and committed.
        let id: String
        if let conversation {
            id = try await ownedConversation(conversation, by: user, origin: origin).id
        } else {
            let defaults = await policy.defaultTags(user: user.name, groups: user.groups)
            id = try await step {
                try await conversations.createConversation(owner: user.name, title: nil, tags: defaults)
            }
        }
        _ = try await step { try await conversations.append(DraftMessage(role: "user", body: text), to: id) }

        // 2. Tags: a detector failure fails closed (only on-prem providers stay eligible).
        var detection = TagResult(tags: [], detectorCounts: [:])
        var detectorFailed = false
        do {
            detection = try await policy.detect(text)
        } catch {
            detectorFailed = true
        }
        let defaults = await policy.defaultTags(user: user.name, groups: user.groups)
        let tags = try await step { try await conversations.addTags(detection.tags.union(defaults), to: id) }

        // 3. Decide.
        var providers = await gateway.providers()
        if detectorFailed { providers = providers.filter { $0.residency == "on-prem" } }
        var decision = await policy.decide(
            tags: tags, user: user.name, groups: user.groups, requested: requestedModel, providers: providers)
        if detectorFailed { decision.rule = "fail-closed:detector-error" }

        // 4. Route.
        let sticky = try await step { try await conversations.conversation(id)?.provider }
        let chosen = await gateway.choose(
            decision: decision, requested: requestedModel, sticky: sticky, conversation: id)
        let tagList = tags.sorted()
        guard let chosen else {
            let blocked =
                (!providers.isEmpty && decision.allowed.isEmpty)
                || (requestedModel.map { decision.denied[$0] != nil } ?? false)
            let fields = CallFields(
                modelID: "-", promptVersion: gateway.promptVersion, provider: requestedModel ?? "-", residency: "-",
                decision: "denied", rule: decision.rule, tags: tagList, detectorCounts: detection.detectorCounts,
                errorCode: blocked ? "policy-blocked" : "provider-unavailable")
            try await record(
                actor: user.name, role: user.role.rawValue, origin: origin, action: "model.decision",
                subject: "conversation:\(id)", outcome: "denied", call: fields)
            if blocked {
                let shown = tagList.isEmpty ? "none" : tagList.joined(separator: ",")
                throw ChatFailure(.policyBlocked, "rule=\(decision.rule) tags=\(shown): \(decision.reason)")
            }
            throw ChatFailure(.providerUnavailable, "no allowed provider is available now; try again later")
        }

        // 5. Audit the decision before any byte leaves.
        var call = CallFields(
            modelID: chosen.modelID, promptVersion: gateway.promptVersion, provider: chosen.name,
            residency: chosen.residency, decision: "allowed", rule: decision.rule, tags: tagList,
            detectorCounts: detection.detectorCounts)
        try await record(
            actor: user.name, role: user.role.rawValue, origin: origin, action: "model.decision",
            subject: "conversation:\(id)", outcome: "allowed", call: call)
        do {
            try await emit(.notice("provider=\(chosen.name) residency=\(chosen.residency) rule=\(decision.rule)"))
        } catch {
            throw ChatFailure(.internal, "the client went away")
        }
        if sticky != chosen.name {
            try await step { try await conversations.setProvider(chosen.name, for: id) }
        }

        // 6. Stream.
        let history = try await step { try await conversations.history(id, limit: configuration.historyTurns) }
        let turns = history.map { PromptTurn(role: $0.role, content: $0.body) }
        let outcome = await stream(
            turns: turns, provider: chosen.name, started: started, emit: emit, shouldStop: shouldStop)

        // 7. Store what was produced, then audit the call.
        if !outcome.reply.isEmpty {
            _ = try await step {
                try await conversations.append(
                    DraftMessage(
                        role: "assistant", body: outcome.reply, provider: chosen.name, modelID: chosen.modelID,
                        promptVersion: gateway.promptVersion, tokensIn: outcome.tokensIn, tokensOut: outcome.tokensOut),
                    to: id)
            }
        }
        let totalMs = Self.milliseconds(ContinuousClock.now - started)
        call.tokensIn = outcome.tokensIn
        call.tokensOut = outcome.tokensOut
        call.ttftMs = outcome.ttftMs
        call.totalMs = totalMs
        call.errorCode = outcome.failure?.code.rawValue
        try await record(
            actor: user.name, role: user.role.rawValue, origin: origin, action: "model.call",
            subject: "conversation:\(id)", outcome: outcome.failure == nil ? "ok" : "failed", call: call)
        if let failure = outcome.failure { throw failure }
        return SendSummary(
            conversation: id, provider: chosen.name, modelID: chosen.modelID,
            tokens: outcome.tokensOut ?? outcome.chunks, milliseconds: totalMs, stop: outcome.stop)
    }

    /// What came back from a provider.
    private struct StreamOutcome {
        var reply = ""
        var chunks = 0
        var tokensIn: Int?
        var tokensOut: Int?
        var ttftMs: Int?
        var stop: String?
        var failure: ChatFailure?
    }

    private func stream(
        turns: [PromptTurn], provider: String, started: ContinuousClock.Instant,
        emit: (ChatOutput) async throws -> Void, shouldStop: () -> Bool
    ) async -> StreamOutcome {
        var outcome = StreamOutcome()
        do {
            for try await event in gateway.stream(provider: provider, turns: turns, maxTokens: configuration.maxTokens)
            {
                switch event {
                case .text(let piece):
                    if outcome.ttftMs == nil { outcome.ttftMs = Self.milliseconds(ContinuousClock.now - started) }
                    outcome.reply += piece
                    outcome.chunks += 1
                    do {
                        try await emit(.text(piece))
                    } catch {
                        // The client went away: stop generating, keep what was produced.
                        outcome.stop = "disconnected"
                        return outcome
                    }
                case .usage(let tokensIn, let tokensOut):
                    outcome.tokensIn = tokensIn
                    outcome.tokensOut = tokensOut
                case .stopped(let reason):
                    outcome.stop = reason
                }
                if shouldStop() {
                    outcome.stop = "shutdown"
                    return outcome
                }
            }
        } catch {
            outcome.failure = ChatFailure(.providerUnavailable, "the provider failed while answering; try again")
        }
        return outcome
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let parts = duration.components
        return Int(parts.seconds) * 1000 + Int(parts.attoseconds / 1_000_000_000_000_000)
    }
}
