// A stand-in for the engine's scheduler until `InferenceEngine`/`LocalProvider` land: the pinned GGUF
// model, its tokenizer and chat template, generating one reply at a time on one serial dispatch queue
// (never on an event loop or the cooperative pool). Streams pieces as they decode; a consumer that
// stops iterating (client gone, shutdown) stops the generation before the next token.
import Dispatch
import Foundation
import GGUF
import Inference
import Policy
import Routing
import Synchronization

/// The in-process model as a Routing `ChatProvider`, serialised on one queue.
///
/// `@unchecked Sendable`: `model` (a non-Sendable class with its KV buffers) is only ever touched on
/// `queue`, a serial dispatch queue, which is the lock; every other stored property is Sendable.
final class SerialLocalProvider: ChatProvider, @unchecked Sendable {
    let info: ProviderInfo
    private let model: TransformerModel
    private let tokenizer: Tokenizer
    private let template: ChatTemplate
    private let addBOS: Bool
    private let queue = DispatchQueue(label: "enclave.local-model")

    init(modelPath: String, name: String = "local", threads: Int = 2) throws {
        let file = try GGUFFile(path: modelPath)
        let vocabulary = try TokenizerVocabulary(gguf: file)
        tokenizer = try Tokenizer(vocabulary: vocabulary)
        template = ChatTemplate(jinja: vocabulary.chatTemplate) ?? ChatTemplate(family: .chatml)
        addBOS = vocabulary.addBOS
        model = try TransformerModel(file: file, threads: threads)
        let modelName = URL(fileURLWithPath: modelPath).deletingPathExtension().lastPathComponent
        info = ProviderInfo(
            name: name, residency: .onPrem, region: nil, model: modelName, pricing: Pricing(),
            contextLength: min(model.config.trainedContextLength, 4096))
    }

    func health() async -> Bool { true }

    func countTokens(_ turns: [ChatTurn]) -> Int {
        tokenizer.encode(template.render(turns, addGenerationPrompt: true), addBOS: addBOS, parseSpecial: true).count
    }

    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<ProviderEvent, any Error>.makeStream(
            bufferingPolicy: .bufferingNewest(256))
        let box = StopFlag()
        continuation.onTermination = { _ in box.stop() }
        queue.async { [self] in
            do {
                try generate(request, stop: box, continuation: continuation)
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        return stream
    }

    /// Runs on `queue` only.
    private func generate(
        _ request: ChatRequest, stop: StopFlag, continuation: AsyncThrowingStream<ProviderEvent, any Error>.Continuation
    ) throws {
        let prompt = tokenizer.encode(
            template.render(request.messages, addGenerationPrompt: true), addBOS: addBOS, parseSpecial: true)
        let capacity = min(info.contextLength, prompt.count + request.maxTokens)
        let cache = model.makeCache(capacity: capacity)
        var logits = try model.evaluate(prompt, cache: cache)
        var sampler = Sampler(request.sampling)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        var history = prompt
        var generated = 0
        while generated < request.maxTokens, cache.count < capacity, !stop.isStopped {
            let next = sampler.sample(&logits, history: history)
            if tokenizer.isEndOfGeneration(next) { break }
            history.append(next)
            generated += 1
            let piece = decoder.append(next)
            if !piece.isEmpty { continuation.yield(.text(piece)) }
            guard generated < request.maxTokens, cache.count < capacity else { break }
            logits = try model.evaluate([next], cache: cache)
        }
        let rest = decoder.finish()
        if !rest.isEmpty { continuation.yield(.text(rest)) }
        continuation.yield(.usage(tokensIn: prompt.count, tokensOut: generated))
    }
}

/// A flag the consumer side sets to stop generation between tokens.
private final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func stop() { flag.store(true, ordering: .relaxed) }
    var isStopped: Bool { flag.load(ordering: .relaxed) }
}
