// InferenceEngine: the public face of the local model. Load once, then many concurrent callers each
// stream a reply to their conversation. One scheduler thread owns the model (see Scheduler.swift);
// callers only tokenize and wait on an AsyncThrowingStream that is bounded by the request's maxTokens.
import Foundation

/// A loaded GGUF model serving chat generations.
public final class InferenceEngine: Sendable {
    /// An identifier for audit and replies: the file name without ".gguf", dots as dashes
    /// (e.g. "SmolLM2-135M-Instruct-Q4_1").
    public let modelID: String
    /// Tokens per session (prompt plus reply).
    public let contextLength: Int
    /// Threads of the matrix products.
    public let threads: Int
    /// The chat template family in use.
    public let templateFamily: ChatTemplateFamily
    /// The model's hyperparameters.
    public let config: ModelConfig
    /// The tokenizer built from the file.
    public let tokenizer: Tokenizer
    private let encoder: PromptEncoder
    private let scheduler: Scheduler

    /// Default context when neither the caller nor a smaller trained context says otherwise.
    public static let defaultContextLength = 2048

    /// Default bound on the KV caches kept for conversations' next turns: about 100 conversations of
    /// 200 tokens each with SmolLM2-135M (46 KiB a token).
    public static let defaultCachePoolBytes = 1 << 30

    /// Loads the model.
    /// - Parameters:
    ///   - modelPath: a GGUF file of a supported architecture.
    ///   - contextLength: tokens per session; default min(2048, the trained context).
    ///   - threads: threads for the matrix products; default min(available cores, 8).
    ///   - templateOverride: the chat template family, when the file's template is not recognised.
    ///   - cachePoolBytes: the most memory finished sessions' KV caches may keep for the next turn of
    ///     their conversations (least recently used go first; 0 keeps none).
    public init(
        modelPath: String, contextLength: Int? = nil, threads: Int? = nil, templateOverride: ChatTemplateFamily? = nil,
        cachePoolBytes: Int = InferenceEngine.defaultCachePoolBytes
    ) throws {
        let threadCount = threads ?? min(max(1, ProcessInfo.processInfo.activeProcessorCount), 8)
        let model = try TransformerModel(path: modelPath, threads: threadCount)
        let vocabulary = try TokenizerVocabulary(gguf: model.file)
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        guard
            let template = ChatTemplate(
                jinja: vocabulary.chatTemplate, override: templateOverride, vocabulary: vocabulary.tokens)
        else {
            throw InferenceError.unknownChatTemplate
        }
        let context = min(contextLength ?? Self.defaultContextLength, model.config.trainedContextLength)
        guard context >= 16 else {
            throw InferenceError.badParameter(key: "contextLength", reason: "\(context) < 16")
        }
        self.contextLength = context
        self.threads = threadCount
        self.config = model.config
        self.tokenizer = tokenizer
        templateFamily = template.family
        encoder = PromptEncoder(tokenizer: tokenizer, template: template)
        var name = URL(fileURLWithPath: modelPath).lastPathComponent
        if name.hasSuffix(".gguf") { name.removeLast(5) }
        modelID = name.replacingOccurrences(of: ".", with: "-")
        scheduler = Scheduler(
            model: model, tokenizer: tokenizer, contextLength: context, poolBytes: max(0, cachePoolBytes))
    }

    deinit { scheduler.shutdown() }

    /// Tokens the conversation takes as a prompt (template included, generation prompt appended).
    public func countTokens(_ turns: [ChatTurn]) -> Int { encoder.encode(turns).count }

    /// The prompt token ids for a conversation, as the engine would evaluate them (before fitting).
    public func promptTokens(_ turns: [ChatTurn]) -> [Int32] { encoder.encode(turns) }

    /// Streams the assistant's reply to `turns`. Fitted to the context by ContextFitter's rule; the stream
    /// ends with `.finished(summary)` or an error (InferenceError). Cancelling the consuming task (or dropping
    /// the stream) stops generation within one token.
    public func generate(_ turns: [ChatTurn], parameters: GenerationParameters)
        -> AsyncThrowingStream<GenerationEvent, any Error>
    {
        let maxTokens = max(1, parameters.maxTokens)
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream(
            bufferingPolicy: .bufferingOldest(maxTokens + 2))
        let fitter = ContextFitter(contextLength: contextLength) { [encoder] in encoder.encode($0).count }
        let fitted: (turns: [ChatTurn], tokens: Int, dropped: Int)
        do {
            fitted = try fitter.fit(turns, maxTokens: maxTokens)
        } catch {
            continuation.finish(throwing: error)
            return stream
        }
        let cancellation = CancellationFlag()
        continuation.onTermination = { _ in cancellation.cancel() }
        var limited = parameters
        limited.maxTokens = maxTokens
        let prompt = encoder.encodeMarkingPrefix(fitted.turns)
        scheduler.submit(
            GenerationRequest(
                prompt: prompt.ids, sharedPrefix: prompt.sharedPrefix, droppedTurns: fitted.dropped,
                parameters: limited, continuation: continuation, cancellation: cancellation))
        return stream
    }
}
