// What routing offers the chat core: the providers, the plan for one message, and each planned attempt
// prepared (its context fitted, its call record begun) and then streamed. Nothing here calls back into
// the caller. ChatCore walks the plan itself, the product's one walk, and writes its durable records between
// the steps (ChatCore+Send.swift).
//
// The rules hold whoever walks the plan:
// - the plan holds only allowed providers, none of wider residency than the primary (Router);
// - an attempt whose context cannot be fitted fails before any byte leaves (ContextAssembler);
// - a failed attempt falls back to the next candidate only while no text has reached the user
//   (`CallStream.mayFallBack`): replaying on another provider would repeat or contradict it;
// - every finished attempt goes to the circuit breakers (ProviderHealth) and to the canary's watch
//   (CanaryWatch), in `CallStream.finish`.
public import Inference
public import Policy

/// The registry, its system prompts, the circuit breakers and the canary's watch, as one routing service.
public struct ProviderGateway: Sendable {
    public let registry: ProviderRegistry
    public let prompts: PromptLibrary
    public let health: ProviderHealth
    /// Flags refusals in finished replies (the flag, never the text, goes into the call record).
    public let refusals: RefusalDetector
    /// Stops the canary when it misbehaves; nil unless `routing.canary.stop_when` is configured.
    public let canaryWatch: CanaryWatch?

    /// - Parameter canaryWatch: nil for the watch the registry's canary configures (none without `stop_when`).
    public init(
        registry: ProviderRegistry, prompts: PromptLibrary, health: ProviderHealth = ProviderHealth(),
        refusals: RefusalDetector = RefusalDetector(), canaryWatch: CanaryWatch? = nil
    ) {
        self.registry = registry
        self.prompts = prompts
        self.health = health
        self.refusals = refusals
        self.canaryWatch = canaryWatch ?? CanaryWatch.configured(registry.router.canary)
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

    /// Every registered provider, in configuration order.
    public var providers: [ProviderInfo] { router.providers }

    /// Providers known to be down now (their circuit breaker is open).
    public func unavailable() -> Set<String> { health.unavailable() }

    /// The plan for one message inside `decision.allowed`, skipping providers that are down. Once the
    /// canary's watch has stopped it, a conversation that is not already on the canary is planned as if
    /// the canary were not allowed, which puts it on control.
    public func plan(_ request: RouteRequest, decision: Decision) throws(RoutingError) -> RoutePlan {
        var decision = decision
        if let canaryWatch, canaryWatch.isStopped, request.stickyProvider != canaryWatch.provider {
            decision.allowed.removeAll { $0 == canaryWatch.provider }
        }
        return try router.plan(request, decision: decision, unavailable: health.unavailable())
    }

    /// Attempt `attempt` of `plan`: the candidate's system prompt, as much history as fits its context
    /// (ContextAssembler's rule), and its call record with outcome `started`; nil when the candidate is not
    /// registered. When not even the system prompt and the message fit, the record is `failed` and
    /// `failure` says why.
    /// - Parameters:
    ///   - history: earlier turns of the conversation, oldest first (no system turn).
    ///   - maxTokens: the reply's token budget, kept free when fitting the context.
    public func prepare(
        _ plan: RoutePlan, attempt: Int, history: [ChatTurn], message: String, maxTokens: Int,
        sampling: SamplingParameters? = nil
    ) -> PreparedCall? {
        guard plan.candidates.indices.contains(attempt),
            let provider = registry.provider(named: plan.candidates[attempt])
        else { return nil }
        let prompt = prompts.prompt(for: provider.info.name)
        var record = CallRecord(provider: provider.info, promptVersion: prompt.version, plan: plan, attempt: attempt)
        do {
            let context = try ContextAssembler.assemble(
                system: prompt.text, history: history, message: ChatTurn(role: .user, content: message),
                contextLength: provider.info.contextLength, replyTokens: maxTokens, count: provider.countTokens)
            record.droppedTurns = context.droppedTurns
            return PreparedCall(
                record: record, failure: nil, provider: provider,
                request: ChatRequest(messages: context.turns, maxTokens: maxTokens, sampling: sampling),
                promptTokens: context.tokens, gateway: self)
        } catch {
            record.outcome = .failed
            record.errorCode = error.code
            return PreparedCall(
                record: record, failure: error, provider: provider,
                request: ChatRequest(messages: [], maxTokens: maxTokens), promptTokens: 0, gateway: self)
        }
    }
}

/// One attempt, ready to start: its record (outcome `started`, or `failed` with `failure`) and request.
public struct PreparedCall: Sendable {
    public var record: CallRecord
    /// Why the attempt cannot start (its context does not fit); nil when it can.
    public let failure: RoutingError?
    let provider: any ChatProvider
    let request: ChatRequest
    /// The fitted context's token count, as the provider counts (the estimate when it reports none).
    let promptTokens: Int
    let gateway: ProviderGateway

    /// Starts the call; nothing goes to the provider before the stream's first `next()`.
    public func open() -> CallStream { CallStream(self) }
}

/// A started attempt, read piece by piece by the one task that opened it.
///
/// `next()` returns the reply's text pieces as the provider generates them; `finish()` then completes the
/// call record. Letting go of the stream (after `stop`, or at its end) cancels the provider's work.
public final class CallStream {
    public private(set) var record: CallRecord
    /// The text received so far (the whole reply once `next()` returned nil).
    public private(set) var reply = ""
    /// Why the caller cut the reply short (`disconnected`, `shutdown`); nil when it ran to its end.
    public private(set) var stopReason: String?
    private var events: AsyncThrowingStream<ProviderEvent, any Error>.AsyncIterator?
    private var error: (any Error)?
    private var usage: (tokensIn: Int, tokensOut: Int)?
    private let call: PreparedCall
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant

    init(_ call: PreparedCall) {
        self.call = call
        record = call.record
        events = call.provider.stream(call.request).makeAsyncIterator()
        started = clock.now
    }

    /// The next text piece; nil once the reply ended, failed or was stopped.
    public func next() async -> String? {
        guard var iterator = events else { return nil }
        events = nil
        do {
            while let event = try await iterator.next() {
                switch event {
                case .text(let piece):
                    if record.ttftMs == nil { record.ttftMs = Self.milliseconds(clock.now - started) }
                    reply += piece
                    events = iterator
                    return piece
                case .usage(let tokensIn, let tokensOut):
                    usage = (tokensIn, tokensOut)
                case .model(let id):
                    record.modelID = id
                }
            }
            try Task.checkCancellation()
        } catch {
            self.error = error
        }
        return nil
    }

    /// Ends the reply where it is (the client went away, the server is stopping): the call counts as
    /// served as far as it got, and the provider's work is cancelled.
    public func stop(_ reason: String) {
        stopReason = reason
        events = nil
    }

    /// Completes the record: outcome, time, tokens (the provider's counts, else estimated), cost, and for a
    /// finished reply its length and refusal flag. Reports the outcome to the circuit breakers and the
    /// canary's watch. Call once, after `next()` returned nil or after `stop`.
    /// - Returns: the record, and the canary's stop when this call crossed one of its bounds (to audit).
    public func finish() -> (record: CallRecord, canaryStop: CanaryStop?) {
        events = nil
        if let error, stopReason == nil {
            let failure =
                (error as? RoutingError)
                ?? (error is CancellationError ? RoutingError.provider(.cancelled) : RoutingError.provider(.engine))
            record.outcome = failure.providerFailure == .cancelled ? .cancelled : .failed
            record.errorCode = failure.code
        } else {
            record.outcome = .ok
            record.replyChars = reply.count
            record.refusal = call.gateway.refusals.isRefusal(reply)
        }
        record.totalMs = Self.milliseconds(clock.now - started)
        if let usage {
            (record.tokensIn, record.tokensOut) = usage
        } else {
            record.tokensIn = call.promptTokens
            record.tokensOut =
                reply.isEmpty
                ? 0 : TokenEstimate.count(ChatTurn(role: .assistant, content: reply)) - TokenEstimate.framingPerTurn
            record.tokensEstimated = true
        }
        record.cost = call.provider.info.pricing.cost(tokensIn: record.tokensIn, tokensOut: record.tokensOut)
        call.gateway.health.record(record.provider, errorCode: record.outcome == .ok ? nil : record.errorCode)
        return (record, call.gateway.canaryWatch?.observe(record))
    }

    /// Whether the plan's next candidate may be tried: this attempt failed before any text reached the user.
    public var mayFallBack: Bool { record.outcome == .failed && reply.isEmpty }

    /// What the user is told when this attempt was the last one tried.
    public var failure: RoutingError {
        .providerUnavailable(reason: "\(record.provider): \(record.errorCode ?? "unknown")")
    }

    private static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
