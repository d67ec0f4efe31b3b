// Scheduler: the one thread that owns the model. Requests arrive in an inbox; the thread interleaves
// all active sessions one step at a time (a prompt chunk or one generated token each), so one long
// answer does not freeze the others; the tokens sampled in a round are evaluated together, one pass
// over the weights for every session decoding (TransformerModel.evaluateStep).
//
// Finished sessions leave their KV cache behind in a pool keyed by token history and bounded in bytes,
// so the next turn of the same conversation evaluates only its new tokens: with many users chatting at
// once, each keeps its own prefix instead of re-reading the whole conversation every message. A new
// conversation copies the keys and values of its system prompt from any kept cache that shares it (the
// system prompt is always evaluated as a batch of its own).
import Foundation
import Metrics
import Synchronization

/// Set by the stream's consumer side when it goes away; read by the scheduler between tokens.
final class CancellationFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func cancel() { value.store(true, ordering: .relaxed) }
    var isCancelled: Bool { value.load(ordering: .relaxed) }
}

/// A generation request as the scheduler receives it.
struct GenerationRequest: Sendable {
    let prompt: [Int32]
    /// Leading prompt tokens other conversations share (the system prompt); evaluated as their own batch.
    let sharedPrefix: Int
    let droppedTurns: Int
    let parameters: GenerationParameters
    let continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
    let cancellation: CancellationFlag
}

/// `@unchecked Sendable`: `inbox` and `stopping` are guarded by `condition` (an NSCondition, the lock);
/// `model`, `cachePool` and the sessions are touched only by the scheduler's own thread.
final class Scheduler: @unchecked Sendable {
    private let condition = NSCondition()
    private var inbox: [GenerationRequest] = []
    private var stopping = false
    private let model: TransformerModel
    private let tokenizer: Tokenizer
    private let contextLength: Int
    /// Finished sessions' caches, least recently used first; their total size stays within `poolBytes`.
    private var cachePool: [(tokens: [Int32], cache: KVCache)] = []
    private let poolBytes: Int
    /// What this scheduler's pool last added to `keptBytes`.
    private var reportedBytes = 0
    /// The KV-cache bytes every scheduler of the process keeps between turns (the local models share
    /// one budget, so the metric is their sum).
    private static let keptBytes = Atomic<Int>(0)
    /// Prompt tokens evaluated per scheduling step, so a long prompt does not stall other sessions.
    private static let promptChunk = 256

    init(model: TransformerModel, tokenizer: Tokenizer, contextLength: Int, poolBytes: Int) {
        self.model = model
        self.tokenizer = tokenizer
        self.contextLength = contextLength
        self.poolBytes = poolBytes
        let thread = Thread { [self] in run() }
        thread.name = "enclave-inference"
        thread.start()
    }

    func submit(_ request: GenerationRequest) {
        condition.lock()
        defer { condition.unlock() }
        if stopping {
            request.continuation.finish(throwing: InferenceError.shutDown)
            return
        }
        inbox.append(request)
        condition.signal()
    }

    func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private final class Session {
        let request: GenerationRequest
        let cache: KVCache
        var history: [Int32]  // every token in the cache, in order
        var pending: [Int32]  // prompt tokens not yet evaluated
        var logits: [Float] = []
        var sampler: Sampler
        var decoder: StreamingDecoder
        var generated = 0
        /// Prompt tokens taken from a kept cache.
        let reusedCount: Int

        init(request: GenerationRequest, cache: KVCache, reused: [Int32], tokenizer: Tokenizer) {
            self.request = request
            self.cache = cache
            history = reused
            reusedCount = reused.count
            pending = Array(request.prompt[reused.count...])
            sampler = Sampler(request.parameters.sampling)
            decoder = StreamingDecoder(tokenizer: tokenizer)
        }
    }

    private func run() {
        var sessions: [Session] = []
        while true {
            condition.lock()
            while inbox.isEmpty && sessions.isEmpty && !stopping { condition.wait() }
            let arrived = inbox
            inbox.removeAll()
            let stop = stopping
            condition.unlock()
            if stop {
                for s in sessions { s.request.continuation.finish(throwing: InferenceError.shutDown) }
                for r in arrived { r.continuation.finish(throwing: InferenceError.shutDown) }
                return
            }
            for request in arrived { sessions.append(start(request)) }
            var decoding: [(session: Session, token: Int32)] = []
            sessions.removeAll { session in
                switch step(session) {
                case .done: return true
                case .more: return false
                case .decode(let token):
                    decoding.append((session, token))
                    return false
                }
            }
            let failed = decode(decoding)
            if !failed.isEmpty { sessions.removeAll { s in failed.contains { $0 === s } } }
        }
    }

    /// What a session needs after its step.
    private enum Step {
        case done
        /// More of its prompt to evaluate.
        case more
        /// Its sampled token evaluated, in this round's decoding batch.
        case decode(Int32)
    }

    /// Evaluates the round's sampled tokens, one per session, as one batch; returns the sessions that
    /// failed (finished with the error). Should the batch fail, each session is evaluated alone, so one
    /// session's failure never ends another's reply.
    private func decode(_ batch: [(session: Session, token: Int32)]) -> [Session] {
        guard !batch.isEmpty else { return [] }
        if batch.count > 1,
            let logits = try? model.evaluateStep(batch.map(\.token), caches: batch.map(\.session.cache))
        {
            for (i, entry) in batch.enumerated() {
                entry.session.logits = logits[i]
                entry.session.history.append(entry.token)
            }
            return []
        }
        var failed: [Session] = []
        for (s, token) in batch {
            do throws(InferenceError) {
                s.logits = try model.evaluate([token], cache: s.cache)
                s.history.append(token)
            } catch {
                fail(s, error)
                failed.append(s)
            }
        }
        return failed
    }

    /// Picks the pooled cache sharing the longest prefix with the prompt: the conversation's own cache
    /// (its whole history a prefix of the prompt) is taken over; a cache sharing less (the system
    /// prompt) stays in the pool and lends a copy of the shared part to a fresh cache.
    private func start(_ request: GenerationRequest) -> Session {
        var best = -1
        var reuse = 0
        for (i, entry) in cachePool.enumerated() {
            let common = zip(entry.tokens, request.prompt).prefix { $0 == $1 }.count
            // Keep at least one prompt token to evaluate, so there are logits to sample from, and cut where
            // an evaluation began: the tokens after it are then batched as they were the first time, and
            // (batch sizes choosing the arithmetic, as in llama.cpp) give the same logits bit for bit.
            let usable = entry.cache.batchStart(atMost: min(common, request.prompt.count - 1))
            if usable > reuse {
                best = i
                reuse = usable
            }
        }
        let cache: KVCache
        if best >= 0, reuse > 0, reuse >= cachePool[best].tokens.count - 1 {
            cache = cachePool.remove(at: best).cache
            cache.truncate(to: reuse)
            reportKeptBytes(cachePool.reduce(0) { $0 + $1.cache.byteCount })
        } else if best >= 0, reuse > 0 {
            let lender = cachePool.remove(at: best)
            cachePool.append(lender)
            cache = model.makeCache(capacity: contextLength)
            cache.copyPrefix(reuse, from: lender.cache)
        } else {
            cache = model.makeCache(capacity: contextLength)
        }
        return Session(
            request: request, cache: cache, reused: Array(request.prompt[..<cache.count]), tokenizer: tokenizer)
    }

    /// Advances a session by one step: a chunk of its prompt, or sampling its next token (whose
    /// evaluation joins the round's decoding batch).
    private func step(_ s: Session) -> Step {
        let request = s.request
        if request.cancellation.isCancelled { return finish(s, .cancelled) }
        do throws(InferenceError) {
            if !s.pending.isEmpty {
                // The shared prefix ends a batch, so that its keys and values are the same in every cache.
                let shared = request.sharedPrefix - s.history.count
                let chunk = Array(s.pending.prefix(shared > 0 ? min(shared, Self.promptChunk) : Self.promptChunk))
                s.pending.removeFirst(chunk.count)
                s.logits = try model.evaluate(chunk, cache: s.cache)
                s.history += chunk
                // An unfinished prompt yields to the other sessions; a finished one samples its first token
                // now, so a newcomer's first token waits for its own prompt, not for another whole round.
                if !s.pending.isEmpty { return .more }
            }
            if s.generated >= request.parameters.maxTokens { return finish(s, .maxTokens) }
            let token = s.sampler.sample(&s.logits, history: s.history)
            if tokenizer.isEndOfGeneration(token) { return finish(s, .endOfTurn) }
            s.generated += 1
            let piece = s.decoder.append(token)
            if !piece.isEmpty { request.continuation.yield(.text(piece)) }
            if s.generated >= request.parameters.maxTokens { return finish(s, .maxTokens) }
            if s.cache.count >= s.cache.capacity { return finish(s, .contextFull) }
            return .decode(token)
        } catch {
            fail(s, error)
            return .done
        }
    }

    /// Ends a session's reply with the model's error (its cache goes back to the pool as far as it got).
    private func fail(_ s: Session, _ error: InferenceError) {
        s.request.continuation.finish(throwing: error)
        recycle(s)
    }

    private func finish(_ s: Session, _ reason: StopReason) -> Step {
        let tail = s.decoder.finish()
        if !tail.isEmpty { s.request.continuation.yield(.text(tail)) }
        let summary = GenerationSummary(
            promptTokens: s.request.prompt.count, generatedTokens: s.generated, stopReason: reason,
            droppedTurns: s.request.droppedTurns, reusedTokens: s.reusedCount)
        s.request.continuation.yield(.finished(summary))
        s.request.continuation.finish()
        recycle(s)
        return .done
    }

    private func recycle(_ s: Session) {
        s.cache.truncate(to: s.history.count)
        s.cache.shrinkToFit()
        cachePool.append((s.history, s.cache))
        var bytes = cachePool.reduce(0) { $0 + $1.cache.byteCount }
        while bytes > poolBytes, let oldest = cachePool.first {
            bytes -= oldest.cache.byteCount
            cachePool.removeFirst()
        }
        reportKeptBytes(bytes)
    }

    /// Publishes the pool's size as `enclave_kv_cache_bytes` (summed over the process's schedulers).
    private func reportKeptBytes(_ bytes: Int) {
        let total = Self.keptBytes.add(bytes - reportedBytes, ordering: .relaxed).newValue
        reportedBytes = bytes
        Gauge(label: "enclave_kv_cache_bytes").record(total)
    }
}
