// The in-process engine as a provider (residency `on-prem`, one provider per loaded model). It
// adds nothing to the engine but the provider vocabulary: text pieces pass through as they are
// decoded, and the engine's summary becomes the usage event. Token counts are the engine's own.
public import Inference
internal import Policy

/// A ``ChatProvider`` over a loaded ``InferenceEngine``.
public struct LocalProvider: ChatProvider {
    public private(set) var info: ProviderInfo
    private let engine: InferenceEngine
    /// How replies are sampled when a request leaves it to the provider (the `engine.sampling` setting).
    public var sampling = SamplingParameters() {
        didSet { info.settings = Self.describe(engine: engine, sampling: sampling) }
    }

    /// `threads=… temperature=… top_k=… top_p=… min_p=…` for `/models`.
    static func describe(engine: InferenceEngine, sampling: SamplingParameters) -> [String] {
        [
            "threads=\(engine.threads)", "temperature=\(sampling.temperature)", "top_k=\(sampling.topK)",
            "top_p=\(sampling.topP)", "min_p=\(sampling.minP)",
        ]
    }

    /// - Parameters:
    ///   - engine: the loaded model; shared, as it schedules many sessions itself.
    ///   - name: the provider's configured name.
    ///   - pricing: the operator's internal price (0 by default).
    public init(engine: InferenceEngine, name: String = "local", region: String? = nil, pricing: Pricing = Pricing()) {
        self.engine = engine
        info = ProviderInfo(
            name: name, residency: .onPrem, region: region, model: engine.modelID, pricing: pricing,
            contextLength: engine.contextLength
        )
        info.settings = Self.describe(engine: engine, sampling: sampling)
    }

    /// The provider a `kind: local` configuration entry describes, over the engine loaded from its
    /// `model_path` (the caller loads it: `InferenceEngine(modelPath: entry.model)`).
    public init(configuration entry: ProviderConfiguration, engine: InferenceEngine) {
        self.init(engine: engine, name: entry.name, region: entry.region, pricing: entry.pricing)
        if let contextLength = entry.contextLength { self = withContextLength(contextLength) }
    }

    /// The same provider fitted into a smaller context than the engine's (never a larger one).
    public func withContextLength(_ length: Int) -> LocalProvider {
        var copy = self
        copy.info.contextLength = min(length, engine.contextLength)
        return copy
    }

    public func health() async -> Bool { true }

    public func countTokens(_ turns: [ChatTurn]) -> Int { engine.countTokens(turns) }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error> {
        let engine = engine
        let sampling = request.sampling ?? sampling
        return AsyncThrowingStream { continuation in
            // The protocol hands back a stream synchronously, so a task relays the engine's events; it
            // is cancelled when the consumer stops, which cancels generation within one token.
            let task = Task {
                continuation.yield(.model(engine.modelID))
                do {
                    let parameters = GenerationParameters(maxTokens: request.maxTokens, sampling: sampling)
                    for try await event in engine.generate(request.messages, parameters: parameters) {
                        switch event {
                        case .text(let piece):
                            continuation.yield(.text(piece))
                        case .finished(let summary):
                            continuation.yield(
                                .usage(tokensIn: summary.promptTokens, tokensOut: summary.generatedTokens))
                        }
                    }
                    continuation.finish(throwing: Task.isCancelled ? RoutingError.provider(.cancelled) : nil)
                } catch is CancellationError {
                    continuation.finish(throwing: RoutingError.provider(.cancelled))
                } catch {
                    continuation.finish(throwing: RoutingError.provider(.engine, "generation failed"))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
