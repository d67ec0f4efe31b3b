// TransformerModel: the llama-family forward pass (llama, qwen2, gemma3) over quantized, memory-mapped
// weights.
//
// Per token, per layer:  x += Wo·attention(rope(Wq·n(x)), rope(Wk·n(x)), Wv·n(x))   n = RMSNorm
//                        x += Wdown·(silu(Wgate·n(x)) ⊙ Wup·n(x))
// then logits = Wout·n(x). Gemma 3 adds norms and changes the activation (the blocks are in
// TransformerModel+Blocks.swift). Tokens are processed in batches: a prompt's tokens, or one token of each of
// several sessions (a decoding step); each session's keys and values live in its own KVCache. Not
// thread-safe: one thread owns a model.
internal import CKernels
internal import COpenBLAS
public import GGUF

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A loaded model, ready to evaluate tokens.
public final class TransformerModel {
    public let config: ModelConfig
    /// The GGUF file the weights are mapped from (also carries tokenizer metadata).
    public let file: GGUFFile
    /// Threads used by the matrix products (the caller's thread included).
    public let threads: Int
    /// Tokens evaluated per forward batch.
    public let batchCapacity: Int
    let weights: ModelWeights
    let state: RunState
    let pool: ThreadPool
    let matmul: MatmulRunner
    /// Logits of up to `logitsGroup` tokens at a time: (logitsGroup × vocab).
    let logitsBuffer: FloatBuffer
    static let logitsGroup = 16

    /// Maps the file at `path` and prepares the model.
    public convenience init(path: String, threads: Int = 2, batchCapacity: Int = 512) throws(InferenceError) {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw .file(error) }
        try self.init(file: file, threads: threads, batchCapacity: batchCapacity)
    }

    /// Prepares the model in `file` (weights stay in the mapping).
    public init(file: GGUFFile, threads: Int = 2, batchCapacity: Int = 512) throws(InferenceError) {
        self.file = file
        config = try ModelConfig(file: file)
        weights = try ModelWeights(file: file, config: config)
        self.batchCapacity = max(1, batchCapacity)
        // Our pool supplies the parallelism; OpenBLAS runs single-threaded inside each worker.
        openblas_set_num_threads(1)
        pool = ThreadPool(threads: threads)
        self.threads = pool.size
        state = RunState(config: config, batchCapacity: self.batchCapacity, threads: pool.size)
        matmul = MatmulRunner(
            pool: pool, quantized: state.quantized, tileBuffers: state.dequantized)
        logitsBuffer = FloatBuffer(Self.logitsGroup * config.vocabularySize)
    }

    /// A new, empty cache for a session of up to `capacity` positions.
    public func makeCache(capacity: Int) -> KVCache { KVCache(config: config, capacity: max(1, capacity)) }

    /// Evaluates `tokens` at the cache's next positions and returns the logits after the last one.
    public func evaluate(_ tokens: [Int32], cache: KVCache) throws(InferenceError) -> [Float] {
        var result: [Float] = []
        try evaluate(tokens, cache: cache, logitsFrom: tokens.count - 1) { _, logits in result = Array(logits) }
        return result
    }

    /// Evaluates `tokens`, appending them to `cache`, and calls `body(i, logits)` for every i ≥ `logitsFrom`
    /// (the logits predicting the token after `tokens[i]`), in order.
    public func evaluate(
        _ tokens: [Int32], cache: KVCache, logitsFrom: Int,
        _ body: (Int, UnsafeBufferPointer<Float>) throws(InferenceError) -> Void
    ) throws(InferenceError) {
        guard !tokens.isEmpty else { return }
        guard cache.count + tokens.count <= cache.capacity else { throw .contextFull(limit: cache.capacity) }
        for t in tokens where t < 0 || Int(t) >= config.vocabularySize {
            throw .tokenOutOfRange(t, vocabulary: config.vocabularySize)
        }
        cache.reserve(cache.count + tokens.count)
        var start = 0
        while start < tokens.count {
            let n = min(batchCapacity, tokens.count - start)
            cache.beginBatch()
            forwardBatch(tokens[start..<start + n], .prompt(cache))
            // Logits for this batch's tokens at or after logitsFrom.
            let first = min(max(start, logitsFrom) - start, n)
            try forEachLogits(rows: first..<n, .byBatchSize) { (row, logits) throws(InferenceError) in
                try body(start + row, logits)
            }
            start += n
        }
    }

    /// Evaluates one token for each of several sessions at once (decoding many conversations): each
    /// product with the weights is one product over all the tokens, while every token attends only to
    /// its own cache. A token's arithmetic is exactly that of `evaluate([token], cache:)` (integer dot
    /// products, single-token attention order), so batching never changes a session's output.
    /// Returns the logits after each token, in order.
    public func evaluateStep(_ tokens: [Int32], caches: [KVCache]) throws(InferenceError) -> [[Float]] {
        precondition(tokens.count == caches.count, "one token per cache")
        for cache in caches where cache.count + 1 > cache.capacity { throw .contextFull(limit: cache.capacity) }
        for t in tokens where t < 0 || Int(t) >= config.vocabularySize {
            throw .tokenOutOfRange(t, vocabulary: config.vocabularySize)
        }
        precondition(Set(caches.map { ObjectIdentifier($0) }).count == caches.count, "one token per session")
        var result: [[Float]] = []
        var start = 0
        while start < tokens.count {
            let n = min(batchCapacity, tokens.count - start)
            let group = Array(caches[start..<start + n])
            for cache in group {
                cache.reserve(cache.count + 1)
                cache.beginBatch()
            }
            forwardBatch(tokens[start..<start + n], .step(group))
            try forEachLogits(rows: 0..<n, .integer) { _, logits in result.append(Array(logits)) }
            start += n
        }
        return result
    }

    /// What a forward batch holds: consecutive tokens of one session (a prompt), or one token of each of
    /// several sessions (a decoding step).
    enum Layout {
        case prompt(KVCache)
        case step([KVCache])

        /// The cache and position of the batch's `i`-th token.
        func slot(_ i: Int) -> (cache: KVCache, position: Int) {
            switch self {
            case .prompt(let cache): (cache, cache.count + i)
            case .step(let caches): (caches[i], caches[i].count)
            }
        }
    }

    /// Runs the layers over a batch of tokens, leaving the final hidden states in state.x and advancing
    /// the caches.
    private func forwardBatch(_ tokens: ArraySlice<Int32>, _ layout: Layout) {
        let c = config
        let s = state
        let n = tokens.count
        // A decoding step keeps the integer products of a single token whatever the batch size.
        let products: MatmulRunner.Products
        var longest = 0
        var prompt = false
        switch layout {
        case .prompt(let cache):
            products = .byBatchSize
            longest = cache.count + n
            prompt = true
        case .step(let caches):
            products = .integer
            longest = caches.map(\.count).max()! + 1
        }
        // Embedding rows → x (n × dim), scaled by sqrt(dim) in Gemma.
        for (i, token) in tokens.enumerated() {
            ck_dequantize_row(
                Int32(weights.embedding.type.rawValue), weights.embedding.row(Int(token)), s.x.pointer + i * c.dim,
                Int32(c.dim))
        }
        if let scale = c.gemma?.embeddingScale { multiply(s.x.pointer, count: n * c.dim, by: scale) }
        prepareAttentionScratch(positions: longest, prompt: prompt)
        for l in weights.layers.indices {
            attentionBlock(layer: l, tokens: n, layout, products)
            feedForwardBlock(layer: l, tokens: n, products)
        }
        switch layout {
        case .prompt(let cache): cache.count += n
        case .step(let caches): for cache in caches { cache.count += 1 }
        }
    }

    /// Calls `body(row, logits)` for each of the last batch's `rows` (none when empty), in order,
    /// computing the logits a group at a time.
    private func forEachLogits(
        rows: Range<Int>, _ products: MatmulRunner.Products,
        _ body: (Int, UnsafeBufferPointer<Float>) throws(InferenceError) -> Void
    ) throws(InferenceError) {
        var i = rows.lowerBound
        while i < rows.upperBound {
            let group = min(Self.logitsGroup, rows.upperBound - i)
            computeLogits(rows: i, count: group, products, batch: (rows.count, i - rows.lowerBound))
            for g in 0..<group {
                try body(
                    i + g,
                    UnsafeBufferPointer(
                        start: logitsBuffer.pointer + g * config.vocabularySize, count: config.vocabularySize))
            }
            i += group
        }
    }

    /// Final norm and output projection for `count` tokens of the last batch starting at `rows`, part of the
    /// projection of `batch.tokens` tokens that llama.cpp would run at once.
    private func computeLogits(
        rows: Int, count: Int, _ products: MatmulRunner.Products, batch: (tokens: Int, first: Int)
    ) {
        let c = config
        let s = state
        normalize(
            rows: count, of: s.x.pointer + rows * c.dim, into: s.xb.pointer, width: c.dim, weights: weights.outputNorm)
        let a = matmul.prepare(s.xb.pointer, tokens: count, cols: c.dim, for: weights.output.type, products)
        matmul.multiply(weights.output, a, into: logitsBuffer.pointer, batch: batch)
        if let cap = c.gemma?.finalLogitSoftcap {
            let logits = logitsBuffer.pointer
            // As llama.cpp: scale by 1/cap, tanh, scale by cap.
            for i in 0..<count * c.vocabularySize { logits[i] = tanhf(logits[i] * (1 / cap)) * cap }
        }
    }

    /// Grows the attention's buffers (ck_attention_job) for `positions`: rows of scores for CK_ATTENTION_ROWS
    /// heads at once on each thread, padded to whole groups of eight positions, and for a prompt the room to
    /// transpose its values.
    private func prepareAttentionScratch(positions: Int, prompt: Bool) {
        let padded = positions + 7
        let rounded = (padded + 255) / 256 * 256
        let rows = Int(CK_ATTENTION_ROWS)
        if state.attentionScratch.count < rows * padded * pool.size {
            state.attentionScratch = FloatBuffer(rows * rounded * pool.size)
        }
        if prompt, state.transposedValues.count < config.kvDim * padded {
            state.transposedValues = FloatBuffer(config.kvDim * rounded)
        }
    }

    func add(_ a: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += a[i] }
    }

    func multiply(_ x: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        for i in 0..<count { x[i] *= factor }
    }
}
