// Runs a route plan: assembles the context for each candidate provider, calls it, streams its text
// to the caller, and on a failure before the first text piece falls back to the plan's next
// provider (the plan holds only allowed providers, never of wider residency). Once text has reached
// the user, a failure ends the call: replaying on another provider would repeat or contradict it.
//
// The caller's `beforeCall` runs before any byte goes to a provider, for every attempt; if it
// throws (the audit log cannot be written), the call does not happen. `afterCall` receives the
// finished record of every attempt, whatever its outcome. When `onText` throws (the client went away,
// the server is shutting down) the call stops there and counts as served as far as it got.
// Every attempt's outcome goes to the providers' circuit breakers (ProviderHealth), so the next plan
// skips a provider that just failed.
public import Inference

/// The result of a served message.
public struct CallResult: Sendable {
    /// The record of the attempt that answered.
    public var record: CallRecord
    /// Records of the failed attempts before it, in order.
    public var failures: [CallRecord]
    /// The whole reply (the caller seals and stores it).
    public var reply: String
    /// Why the reply was cut short by the caller (``CallStop``), nil when it ran to its end.
    public var stop: String?
}

/// Thrown by an `onText` handler to stop a call early (`disconnected`, `shutdown`); the call keeps
/// what was produced and counts as served.
public struct CallStop: Error, Sendable, Equatable {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }
}

/// Why a routed call failed after routing succeeded.
public struct CallFailure: Error, Sendable {
    /// What the user is told (`provider-unavailable` or `bad-arguments`).
    public var error: RoutingError
    /// Every attempt's record, in order.
    public var records: [CallRecord]
    /// Whether part of a reply already reached the user.
    public var partialReply: Bool { !partialText.isEmpty }
    /// The text that reached the user before the failure (empty if none); the caller stores it.
    public var partialText: String
}

/// Executes plans against a registry's providers.
public struct CallExecutor: Sendable {
    public let registry: ProviderRegistry
    public let prompts: PromptLibrary
    /// Where each attempt's outcome is recorded; nil to keep no health state.
    public let health: ProviderHealth?
    /// Flags refusals in finished replies (the flag, never the text, goes into the call record).
    public let refusals: RefusalDetector

    public init(
        registry: ProviderRegistry, prompts: PromptLibrary, health: ProviderHealth? = nil,
        refusals: RefusalDetector = RefusalDetector()
    ) {
        self.registry = registry
        self.prompts = prompts
        self.health = health
        self.refusals = refusals
    }

    /// Serves one message along `plan`.
    /// - Parameters:
    ///   - history: earlier turns of the conversation, oldest first (no system turn).
    ///   - message: the new user message.
    ///   - maxTokens: the reply's token budget, kept free when fitting the context.
    ///   - onText: receives each text piece as it arrives; throwing (``CallStop``) ends the call there.
    /// - Throws: ``CallFailure`` when every candidate failed; whatever `beforeCall` throws; `CancellationError`.
    public func run(
        plan: RoutePlan, history: [ChatTurn], message: String, maxTokens: Int,
        sampling: SamplingParameters? = nil,
        beforeCall: (CallRecord) async throws -> Void,
        afterCall: (CallRecord) async -> Void,
        onText: (String) async throws -> Void
    ) async throws -> CallResult {
        var records: [CallRecord] = []
        var lastError = RoutingError.providerUnavailable(reason: "no provider in the plan")
        for (attempt, name) in plan.candidates.enumerated() {
            guard let provider = registry.provider(named: name) else { continue }
            let prompt = prompts.prompt(for: name)
            var record = CallRecord(
                provider: provider.info, promptVersion: prompt.version, plan: plan, attempt: attempt)
            let context: AssembledContext
            do {
                context = try ContextAssembler.assemble(
                    system: prompt.text, history: history, message: ChatTurn(role: .user, content: message),
                    contextLength: provider.info.contextLength, replyTokens: maxTokens,
                    count: provider.countTokens)
            } catch {
                record.outcome = .failed
                record.errorCode = error.code
                await afterCall(record)
                records.append(record)
                lastError = error
                continue
            }
            record.droppedTurns = context.droppedTurns
            try await beforeCall(record)
            let outcome = await call(
                provider, ChatRequest(messages: context.turns, maxTokens: maxTokens, sampling: sampling),
                record: record,
                promptTokens: context.tokens, onText: onText)
            health?.record(name, errorCode: outcome.record.outcome == .ok ? nil : outcome.record.errorCode)
            await afterCall(outcome.record)
            records.append(outcome.record)
            switch outcome.record.outcome {
            case .ok:
                return CallResult(
                    record: outcome.record, failures: Array(records.dropLast()), reply: outcome.reply,
                    stop: outcome.stop)
            case .cancelled:
                throw CancellationError()
            case .failed, .started:
                let code = outcome.record.errorCode ?? "unknown"
                lastError = .providerUnavailable(reason: "\(name): \(code)")
                if !outcome.reply.isEmpty {
                    throw CallFailure(error: lastError, records: records, partialText: outcome.reply)
                }
            }
        }
        throw CallFailure(error: lastError, records: records, partialText: "")
    }

    private func call(
        _ provider: any ChatProvider, _ request: ChatRequest, record: CallRecord, promptTokens: Int,
        onText: (String) async throws -> Void
    ) async -> (record: CallRecord, reply: String, stop: String?) {
        var record = record
        var reply = ""
        var stop: String?
        var usage: (Int, Int)?
        let clock = ContinuousClock()
        let start = clock.now
        func milliseconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        }
        do {
            events: for try await event in provider.stream(request) {
                switch event {
                case .text(let piece):
                    if record.ttftMs == nil { record.ttftMs = milliseconds(clock.now - start) }
                    reply += piece
                    do {
                        try await onText(piece)
                    } catch {
                        stop = (error as? CallStop)?.reason ?? "disconnected"
                        break events
                    }
                case .usage(let tokensIn, let tokensOut):
                    usage = (tokensIn, tokensOut)
                case .model(let id):
                    record.modelID = id
                }
            }
            if stop == nil { try Task.checkCancellation() }
            record.outcome = .ok
            record.replyChars = reply.count
            record.refusal = refusals.isRefusal(reply)
        } catch {
            let failure =
                (error as? ProviderError)
                ?? (error is CancellationError ? ProviderError(.cancelled) : ProviderError(.engine))
            record.outcome = failure.kind == .cancelled ? .cancelled : .failed
            record.errorCode = failure.code
        }
        record.totalMs = milliseconds(clock.now - start)
        if let (tokensIn, tokensOut) = usage {
            record.tokensIn = tokensIn
            record.tokensOut = tokensOut
        } else {
            record.tokensIn = promptTokens
            record.tokensOut =
                reply.isEmpty
                ? 0 : TokenEstimate.count(ChatTurn(role: .assistant, content: reply)) - TokenEstimate.framingPerTurn
            record.tokensEstimated = true
        }
        record.cost = provider.info.pricing.cost(tokensIn: record.tokensIn, tokensOut: record.tokensOut)
        return (record, reply, stop)
    }
}
