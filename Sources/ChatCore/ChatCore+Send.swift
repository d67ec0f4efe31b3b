// Sending one chat message: the walk of DESIGN.md §1, top to bottom in `deliver`, failing closed at
// every step. Durable writes that do not depend on each other overlap: the user's message is committed
// beside the first `model.decision` record (the provider sees no byte unless both succeeded), and the
// reply beside the last `model.call` record (the final line waits for both). A finished attempt's call
// record is held back until the next decision record or the end, so the audit log's order is that of
// the events.
import Audit
import Foundation
import Inference
import Policy
import Routing
import Storage

extension ChatCore {
    /// Sends `text` to `conversation` (created when nil) and streams the reply through `emit`.
    ///
    /// - Parameters:
    ///   - requestedModel: the provider chosen with `/model`, if any.
    ///   - stopReason: asked after each text piece; a reason (`shutdown`, `cancelled`, `session-ended`) cuts the
    ///     reply short there, stores it as far as it got, and the summary says `stop=<reason>`. A piece `emit`
    ///     could not deliver cuts it too (`disconnected`).
    /// - Returns: the summary for the final `OK` line (its `conversation` is the one used).
    public func send(
        _ text: String, conversation: String?, requestedModel: String?, as user: Principal, origin: String,
        emit: (ChatOutput) async throws -> Void, stopReason: () -> String? = { nil }
    ) async throws(ChatFailure) -> SendSummary {
        do {
            let summary = try await sendMessage(
                text, conversation: conversation, requestedModel: requestedModel, as: user, origin: origin, emit: emit,
                stopReason: stopReason)
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
        emit: (ChatOutput) async throws -> Void, stopReason: () -> String?
    ) async throws(ChatFailure) -> SendSummary {
        try limiter.admit(user.name)
        defer { limiter.finish(user.name) }
        let started = ContinuousClock.now

        // The conversation: the user's own (one indexed read: owner, sticky provider, tags), or a new one.
        let defaults = await policy.defaultTags(user: user.name, groups: user.groups)
        let head: ConversationHead
        if let conversation {
            head = try await ownedHead(try Self.conversationID(conversation), by: user, origin: origin)
        } else {
            let id = try await step {
                try await store.createConversation(owner: user.name, title: nil, tags: defaults)
            }
            head = ConversationHead(id: id, owner: user.name, provider: nil, tags: defaults)
        }
        let id = head.id
        return try await namingIntegrity(of: id, user, origin: origin) { () async throws(ChatFailure) -> SendSummary in
            try await deliver(
                text, to: id, head: head, defaults: defaults, isNew: conversation == nil,
                requestedModel: requestedModel,
                as: user, origin: origin, started: started, emit: emit, stopReason: stopReason)
        }
    }

    /// The send loop on conversation `id` (the user's own, or a new one): history, tags, decision, plan,
    /// then each planned candidate until one answers, and what it stores.
    private func deliver(
        _ text: String, to id: ConversationID, head: ConversationHead, defaults: Set<String>, isNew: Bool,
        requestedModel: String?, as user: Principal, origin: String, started: ContinuousClock.Instant,
        emit: (ChatOutput) async throws -> Void, stopReason: () -> String?
    ) async throws(ChatFailure) -> SendSummary {
        // History: the earlier turns, read before the new message is stored (the same turns as reading after
        // it and dropping it), so that storing it can overlap the decision's audit record. At least two are
        // read: the previous user message's tail is scanned joined to this one, so an identifier split
        // across two messages ("my card is 4111 1111", then "1111 1111") is found.
        let earlier = max(configuration.historyTurns - 1, 0)
        let stored = isNew ? [] : try await step { try await store.history(id, limit: max(earlier, 2)) }
        let history = earlier == 0 ? [] : stored.suffix(earlier).map(Self.turn)

        // Detect and tag. Tags are stored before the message, so a stored message's tags are always on its
        // conversation; a message that brings no new tag writes nothing. A detector failure is the policy's
        // fail-closed case (only on-prem providers).
        var detection = Detection()
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
            found.isSubset(of: head.tags)
            ? head.tags : try await step { try await store.addTags(found, to: id) }

        // Decide: which providers may see the conversation (pure policy).
        var decision = await policy.decide(
            DecisionRequest(
                tags: tags, user: user.name, groups: user.groups, requestedProvider: requestedModel,
                providers: gateway.router.descriptors, detectorCounts: detection.countsByDetector,
                detectionFailed: detectorFailed))
        ChatMetrics.decision(rule: decision.rule, allowed: !decision.allowed.isEmpty)
        // The router's canary eligibility must see every tag of the conversation.
        decision.tags.formUnion(tags)
        let context = CallContext(
            user: user, origin: origin, conversation: id, rule: decision.rule, tags: tags.sorted(),
            detectorCounts: detection.countsByDetector, policySHA256: decision.policySHA256)
        let message = NewMessage(role: "user", body: text)

        // Plan. A refusal stores the message, audits the denied decision and ends the walk.
        let plan: RoutePlan
        do {
            plan = try gateway.plan(
                RouteRequest(
                    conversation: id.rawValue, user: user.name, groups: user.groups, requestedProvider: requestedModel,
                    stickyProvider: head.provider),
                decision: decision)
        } catch {
            let failure = Self.failure(error, reason: decision.reason)
            if let storing = await save(message, in: id) { throw storing }
            if failure.code == .policyBlocked { ChatMetrics.block(rule: decision.rule) }
            try await durable(begin(context.deniedEvent(requested: requestedModel, code: failure.code)))
            throw failure
        }

        // Each candidate in turn until one answers.
        var messageStored = false
        var auditFailed = false
        // The last finished attempt whose `model.call` record is not written yet.
        var unrecorded: CallRecord?
        var lastFailure = ChatFailure(.providerUnavailable, "no allowed provider is available now; try again later")
        for attempt in plan.candidates.indices {
            // Fit the context (ContextAssembler's rule); an attempt that cannot fit fails before anything leaves.
            guard
                let call = gateway.prepare(
                    plan, attempt: attempt, history: history, message: text, maxTokens: configuration.maxTokens)
            else { continue }
            if let failure = call.failure {
                if await !finished(call.record, canaryStop: nil, holding: &unrecorded, context) { auditFailed = true }
                lastFailure = Self.failure(failure, reason: decision.reason)
                continue
            }
            // Audit the decision beside storing the message; both durable before any byte leaves.
            if let held = unrecorded.take(), await !recordCall(held, context) { auditFailed = true }
            let decisionRecord = begin(context.event("model.decision", call.record))
            if !messageStored {
                if let failure = await save(message, in: id) {
                    _ = try? await durable(decisionRecord)
                    throw failure
                }
                messageStored = true
            }
            try await durable(decisionRecord)
            try await announce(call.record, rule: decision.rule, emit: emit)

            // Stream; the client going away, its interrupt, the end of its session or the server stopping ends
            // the reply where it is.
            let stream = call.open()
            while let piece = await stream.next() {
                do {
                    try await emit(.text(piece))
                    if let reason = stopReason() { stream.stop(reason) }
                } catch {
                    stream.stop("disconnected")
                }
            }
            let (finishedRecord, canaryStop) = stream.finish()
            if await !finished(finishedRecord, canaryStop: canaryStop, holding: &unrecorded, context) {
                auditFailed = true
            }
            switch finishedRecord.outcome {
            case .ok:
                // Record the call beside storing the reply; the final line waits for both.
                let callRecord = unrecorded.take().map { begin(context.event("model.call", $0)) }
                let storing = await saveReply(stream.reply, of: finishedRecord, in: id)
                if let callRecord, (try? await durable(callRecord)) == nil { auditFailed = true }
                if let storing { throw storing }
                if auditFailed { throw .internal() }
                // The reply's tags and the conversation's provider, stored before any later call is decided.
                try await tagReply(stream.reply, in: id, known: tags)
                if finishedRecord.provider != head.provider {
                    try await step { try await store.setProvider(finishedRecord.provider, for: id) }
                }
                return SendSummary(
                    conversation: id.rawValue, provider: finishedRecord.provider, modelID: finishedRecord.modelID,
                    tokens: finishedRecord.tokensOut, milliseconds: Self.milliseconds(ContinuousClock.now - started),
                    stop: stream.stopReason
                        ?? (finishedRecord.tokensOut >= configuration.maxTokens ? "max-tokens" : nil))
            case .cancelled:
                if let held = unrecorded.take() { _ = await recordCall(held, context) }
                throw .internal(CancellationError())
            case .failed, .started:
                lastFailure = Self.failure(stream.failure, reason: decision.reason)
                if !stream.mayFallBack {
                    // Text already reached the user: keep it, and end the call rather than repeat it elsewhere.
                    if let held = unrecorded.take() { _ = await recordCall(held, context) }
                    if let storing = await saveReply(stream.reply, of: nil, in: id) { throw storing }
                    try await tagReply(stream.reply, in: id, known: tags)
                    throw ChatFailure(
                        lastFailure.code, "the provider failed in the middle of the reply; the text above is incomplete"
                    )
                }
            }
        }
        // No candidate answered.
        if let held = unrecorded.take() { _ = await recordCall(held, context) }
        if !messageStored, let failure = await save(message, in: id) { throw failure }
        throw lastFailure
    }

    /// The `* provider=...` notice before an attempt's text.
    private func announce(_ record: CallRecord, rule: String, emit: (ChatOutput) async throws -> Void)
        async throws(ChatFailure)
    {
        var notice = "provider=\(record.provider) residency=\(record.residency.rawValue) rule=\(rule)"
        if record.attempt > 0 { notice += " fallback=\(record.attempt)" }
        do {
            try await emit(.notice(notice))
        } catch {
            throw ChatFailure(.internal, "the client went away")
        }
    }

    /// A finished attempt: counted, observed, the canary's stop (if this call crossed a bound) audited, and
    /// its call record held back after writing the one held before it. False when that write failed.
    private func finished(
        _ record: CallRecord, canaryStop: CanaryStop?, holding unrecorded: inout CallRecord?, _ context: CallContext
    ) async -> Bool {
        ChatMetrics.attempt(record)
        configuration.attemptObserver?(context.conversation.rawValue, record)
        if let canaryStop {
            // The stop holds even if its record cannot be written (fewer canary calls is the safe side); an
            // audit failure surfaces on the messages whose own records fail the same way.
            try? await self.record(
                actor: "-", role: "-", origin: "-", action: CanaryStop.action,
                subject: "provider:\(canaryStop.provider)", outcome: canaryStop.bound, detail: canaryStop.detail)
        }
        let held = unrecorded.take()
        unrecorded = record
        guard let held else { return true }
        return await recordCall(held, context)
    }

    /// Writes the `model.call` record of a finished attempt; false when it could not be written.
    private func recordCall(_ record: CallRecord, _ context: CallContext) async -> Bool {
        (try? await durable(begin(context.event("model.call", record)))) != nil
    }

    /// Seals and appends `message`; returns the failure instead of throwing it (so that an audit record
    /// begun beside it is still waited for).
    private func save(_ message: NewMessage, in id: ConversationID) async -> ChatFailure? {
        do {
            _ = try await step { try await store.append(message, to: id) }
            return nil
        } catch {
            return error
        }
    }

    /// Seals and appends the assistant's reply (nothing when it is empty); returns the failure.
    private func saveReply(_ text: String, of record: CallRecord?, in id: ConversationID) async -> ChatFailure? {
        guard !text.isEmpty else { return nil }
        return await save(
            NewMessage(
                role: "assistant", body: text, provider: record?.provider, modelID: record?.modelID,
                promptVersion: record?.promptVersion, tokensIn: record?.tokensIn, tokensOut: record?.tokensOut),
            in: id)
    }

    /// A provider's reply is part of the next prompt: its tags are stored on the conversation before
    /// any later call is decided. A reply the detectors cannot read confines the conversation to
    /// on-prem providers, as a message would (the fail-closed tag of the policy gate).
    func tagReply(_ reply: String, in id: ConversationID, known: Set<String>) async throws(ChatFailure) {
        let found: Set<String>
        do {
            found = try await policy.detect(reply).tags
        } catch {
            found = [Self.unreadableReplyTag]
        }
        if !found.isSubset(of: known) { _ = try await step { try await store.addTags(found, to: id) } }
    }

    /// The tag a reply gets when the detectors fail on it; no rule names it, so only on-prem providers
    /// may see the conversation afterwards.
    static let unreadableReplyTag = "detector-error"

    /// The end of the previous user message joined by a line break to the start of this one: long enough
    /// for the longest identifier (an IBAN of 34 characters with its separators) on either side.
    static func seam(_ previous: String, _ text: String) -> String {
        String(previous.suffix(64)) + "\n" + String(text.prefix(64))
    }

    /// A stored message as a prompt turn.
    static func turn(_ message: MessageRecord) -> ChatTurn {
        let role: ChatRole =
            switch message.role {
            case "assistant": .assistant
            case "system": .system
            default: .user
            }
        return ChatTurn(role: role, content: message.body)
    }

    /// What the user sees for a routing error; `reason` is the policy decision's own explanation.
    static func failure(_ error: RoutingError, reason: String) -> ChatFailure {
        switch error {
        case .policyBlocked(let provider, let rule, let tags):
            return ChatFailure.policyBlocked(rule: rule, tags: tags, provider: provider, reason: reason)
        case .providerUnavailable(let reason):
            return ChatFailure(
                .providerUnavailable, "no allowed provider is available now (\(reason)); try again later")
        case .provider:
            // One provider's failure, by its code only (its detail is for the call record).
            return ChatFailure(
                .providerUnavailable, "no allowed provider is available now (\(error.code)); try again later")
        case .unknownProvider:
            return ChatFailure(.notFound, error.message)
        case .contextOverflow:
            return ChatFailure(.badArguments, error.message)
        }
    }

    public static func milliseconds(_ duration: Duration) -> Int {
        let parts = duration.components
        return Int(parts.seconds) * 1000 + Int(parts.attoseconds / 1_000_000_000_000_000)
    }
}

/// What every audit record of one message shares.
struct CallContext {
    var user: Principal
    var origin: String
    var conversation: ConversationID
    var rule: String
    var tags: [String]
    var detectorCounts: [String: Int]
    /// The deciding policy set's SHA-256 (nil when none was loaded).
    var policySHA256: String?

    /// The `model.decision` (outcome `allowed`) or `model.call` (the attempt's outcome) record of `record`.
    func event(_ action: String, _ record: CallRecord) -> AuditEvent {
        let started = record.outcome == .started
        let fields = ModelCallFields(
            modelID: record.modelID, promptVersion: record.promptVersion, provider: record.provider,
            residency: record.residency.rawValue, canaryArm: record.arm.rawValue, decision: "allowed", rule: rule,
            tags: tags, detectorCounts: detectorCounts, tokensIn: started ? nil : record.tokensIn,
            tokensOut: started ? nil : record.tokensOut, ttftMs: record.ttftMs.map { Int($0.rounded()) },
            totalMs: started ? nil : Int(record.totalMs.rounded()),
            costMicros: started ? nil : Int((record.cost * 1_000_000).rounded()), errorCode: record.errorCode,
            replyChars: record.replyChars, refusal: record.refusal, region: record.region,
            route: record.routeReason.rawValue, policySHA256: policySHA256,
            tokensEstimated: started ? nil : record.tokensEstimated, droppedTurns: record.droppedTurns)
        return AuditEvent(
            actor: user.name, role: user.role.rawValue, origin: origin, action: action,
            subject: "conversation:\(conversation)",
            outcome: action == "model.call" ? record.outcome.rawValue : "allowed",
            call: fields)
    }

    /// The `model.decision` record of a message refused before any attempt.
    func deniedEvent(requested: String?, code: ChatFailure.Code) -> AuditEvent {
        AuditEvent(
            actor: user.name, role: user.role.rawValue, origin: origin, action: "model.decision",
            subject: "conversation:\(conversation)", outcome: "denied",
            call: ModelCallFields(
                modelID: "-", promptVersion: "-", provider: requested ?? "-", residency: "-", decision: "denied",
                rule: rule, tags: tags, detectorCounts: detectorCounts, errorCode: code.rawValue,
                policySHA256: policySHA256))
    }
}
