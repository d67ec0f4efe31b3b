// Sending one chat message: the walk of DESIGN.md §1, step by step, failing closed at each one.
import Foundation

extension ChatCore {
    /// Sends `text` to `conversation` (created when nil) and streams the reply through `emit`.
    ///
    /// 1. seal + append the user message (durable before any byte goes to a provider)
    /// 2. tag: detectors over the new text; tags only grow and are stored with the conversation
    /// 3. decide which providers may see the conversation (policy, pure)
    /// 4. route inside the allowed set (user choice, sticky provider, canary, default; fallback)
    /// 5. audit the decision before any byte goes to a provider, for every attempt; no audit, no call
    /// 6. stream the reply through `emit` (a newline in `.text` starts a new line for the client)
    /// 7. seal + append the reply; audit every attempt's call record (ChatCore+Serve.swift)
    ///
    /// The user message's commit runs beside the first decision record, and the reply's beside the last call
    /// record (two rounds of fsyncs per message instead of four); the provider is called only when both of
    /// the first pair succeeded, and the result returns only when both of the second did.
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
        do {
            let summary = try await sendMessage(
                text, conversation: conversation, requestedModel: requestedModel, as: user, origin: origin, emit: emit,
                shouldStop: shouldStop)
            ChatMetrics.message(outcome: "ok")
            return summary
        } catch {
            ChatMetrics.message(outcome: error.code.rawValue)
            throw error
        }
    }

    /// `send` without its metric (every outcome of this one is counted there).
    private func sendMessage(
        _ text: String, conversation: String?, requestedModel: String?, as user: Principal, origin: String,
        emit: (ChatOutput) async throws -> Void, shouldStop: () -> Bool
    ) async throws(ChatFailure) -> SendSummary {
        try limiter.admit(user.name)
        defer { limiter.finish(user.name) }
        let started = ContinuousClock.now

        // The conversation: the user's own (one indexed read: owner, sticky provider, tags), or a new one.
        let defaults = await policy.defaultTags(user: user.name, groups: user.groups)
        let id: String
        let known: Set<String>
        let sticky: String?
        if let conversation {
            let head = try await ownedHead(conversation, by: user, origin: origin)
            (id, known, sticky) = (conversation, head.tags, head.provider)
        } else {
            id = try await step {
                try await conversations.createConversation(owner: user.name, title: nil, tags: defaults)
            }
            (known, sticky) = (defaults, nil)
        }
        return try await namingIntegrity(of: id, user, origin: origin) { () async throws(ChatFailure) -> SendSummary in
            try await deliver(
                text, to: id, known: known, sticky: sticky, defaults: defaults, isNew: conversation == nil,
                requestedModel: requestedModel, as: user, origin: origin, started: started, emit: emit,
                shouldStop: shouldStop)
        }
    }

    /// Steps 1-7 of `send` on conversation `id` (the user's own or a new one): tags, decision, the call,
    /// and what it stores.
    private func deliver(
        _ text: String, to id: String, known: Set<String>, sticky: String?, defaults: Set<String>, isNew: Bool,
        requestedModel: String?, as user: Principal, origin: String, started: ContinuousClock.Instant,
        emit: (ChatOutput) async throws -> Void, shouldStop: () -> Bool
    ) async throws(ChatFailure) -> SendSummary {

        // 2. Tags: a detector failure fails closed (only on-prem providers stay eligible). They are stored
        // before the message, so a stored message's tags are always on its conversation; a message that
        // brings no new tag writes nothing.
        // The earlier turns, read before the new message is stored (the same turns as reading after it and
        // dropping it), so that storing it can overlap the decision's audit record (ChatCore+Serve.swift).
        // At least two are read: the previous user message's tail is scanned joined to this one, so an
        // identifier split across two messages ("my card is 4111 1111", then "1111 1111") is found.
        let earlier = max(configuration.historyTurns - 1, 0)
        let stored =
            isNew ? [] : try await step { try await conversations.history(id, limit: max(earlier, 2)) }
        let history = earlier == 0 ? [] : Array(stored.suffix(earlier))
        var detection = TagResult(tags: [], detectorCounts: [:])
        var detectorFailed = false
        do {
            detection = try await policy.detect(text)
            if let previous = stored.last(where: { $0.role == "user" }) {
                detection.tags.formUnion(try await policy.detect(Self.seam(previous.body, text)).tags)
            }
        } catch {
            detectorFailed = true
        }
        let found = detection.tags.union(defaults)
        let tags =
            found.isSubset(of: known) ? known : try await step { try await conversations.addTags(found, to: id) }

        // 3. Decide.
        var providers = await gateway.providers()
        if detectorFailed { providers = providers.filter { $0.residency == "on-prem" } }
        var decision = await policy.decide(
            tags: tags, user: user.name, groups: user.groups, requested: requestedModel, providers: providers)
        if detectorFailed { decision.rule = "fail-closed:detector-error" }
        ChatMetrics.decision(rule: decision.rule, allowed: !decision.allowed.isEmpty)
        // The router's canary eligibility must see every tag of the conversation.
        decision.tags.formUnion(tags)

        // 1, 4-7. Store the message and audit the decision (both durable before any byte leaves), route inside
        // the allowed set, stream, then store the reply and audit the call.
        let call = ModelCall(
            conversation: id, user: user.name, groups: user.groups, requested: requestedModel, sticky: sticky,
            decision: decision, history: history.map { PromptTurn(role: $0.role, content: $0.body) },
            message: text, maxTokens: configuration.maxTokens)
        let context = CallContext(
            user: user, origin: origin, conversation: id, rule: decision.rule, tags: tags.sorted(),
            detectorCounts: detection.detectorCounts)
        let reply = try await serve(
            call, context: context, message: DraftMessage(role: "user", body: text), emit: emit,
            shouldStop: shouldStop)

        try await tagReply(reply.reply, in: id, known: tags)
        if reply.served.provider.name != sticky {
            try await step { try await conversations.setProvider(reply.served.provider.name, for: id) }
        }
        return SendSummary(
            conversation: id, provider: reply.served.provider.name, modelID: reply.served.modelID,
            tokens: reply.served.tokensOut ?? 0, milliseconds: Self.milliseconds(ContinuousClock.now - started),
            stop: reply.stop)
    }

    /// A provider's reply is part of the next prompt: its tags are stored on the conversation before
    /// any later call is decided. A reply the detectors cannot read confines the conversation to
    /// on-prem providers, as a message would (the fail-closed tag of the policy gate).
    func tagReply(_ reply: String, in id: String, known: Set<String>) async throws(ChatFailure) {
        let found: Set<String>
        do {
            found = try await policy.detect(reply).tags
        } catch {
            found = [Self.unreadableReplyTag]
        }
        if !found.isSubset(of: known) { _ = try await step { try await conversations.addTags(found, to: id) } }
    }

    /// The tag a reply gets when the detectors fail on it; no rule names it, so only on-prem providers
    /// may see the conversation afterwards.
    static let unreadableReplyTag = "detector-error"

    /// The end of the previous user message joined by a line break to the start of this one: long enough
    /// for the longest identifier (an IBAN of 34 characters with its separators) on either side.
    static func seam(_ previous: String, _ text: String) -> String {
        String(previous.suffix(64)) + "\n" + String(text.prefix(64))
    }

    public static func milliseconds(_ duration: Duration) -> Int {
        let parts = duration.components
        return Int(parts.seconds) * 1000 + Int(parts.attoseconds / 1_000_000_000_000_000)
    }
}
