// The two blocks of a transformer layer, over a batch of tokens in the model's run state:
//   attention:     x += post(Wo·attention(rope(qn(Wq·n(x)))·s, rope(kn(Wk·n(x))), Wv·n(x)))
//   feed-forward:  x += post(Wdown·(act(Wgate·n(x)) ⊙ Wup·n(x)))
// where n is RMSNorm, act is SiLU (llama, qwen2, qwen3, phi3) or tanh-GELU (Gemma). Gemma 3 and Qwen 3
// have the query and key norms qn/kn (per head); Gemma 3 and Phi 3 scale the queries (s) before Q·K;
// Gemma 3 alone has the post-norms, a RoPE base per layer and a sliding window on its local layers —
// each step in llama.cpp's order.
internal import CKernels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension TransformerModel {
    /// Attention of layer `l` for the batch's `n` tokens: reads and updates state.x, stores the keys and
    /// values in the caches.
    func attentionBlock(layer l: Int, tokens n: Int, _ layout: Layout, _ products: MatmulRunner.Products) {
        let c = config
        let s = state
        let w = weights.layers[l]
        let qDim = c.headCount * c.headDim
        normalize(rows: n, of: s.x.pointer, into: s.xb.pointer, width: c.dim, weights: w.attentionNorm)
        let a = matmul.prepare(s.xb.pointer, tokens: n, cols: c.dim, for: w.wq.type, products)
        matmul.multiply(w.wq, a, into: s.q.pointer, bias: w.bq)
        let akv = matmul.prepare(s.xb.pointer, tokens: n, cols: c.dim, for: w.wk.type, products, reusing: a)
        matmul.multiply(w.wk, akv, into: s.k.pointer, bias: w.bk)
        let av = matmul.prepare(s.xb.pointer, tokens: n, cols: c.dim, for: w.wv.type, products, reusing: akv)
        matmul.multiply(w.wv, av, into: s.v.pointer, bias: w.bv)
        // Gemma and Qwen 3 normalise every query and key head before rotating it.
        if let qn = w.queryNorm {
            normalize(rows: n * c.headCount, of: s.q.pointer, into: s.q.pointer, width: c.headDim, weights: qn)
        }
        if let kn = w.keyNorm {
            normalize(rows: n * c.kvHeadCount, of: s.k.pointer, into: s.k.pointer, width: c.headDim, weights: kn)
        }
        let neox: Int32 = c.ropeStyle == .neox ? 1 : 0
        let rope = c.rope(layer: l)
        for i in 0..<n {
            let (cache, position) = layout.slot(i)
            let factors = weights.ropeFactors(context: cache.capacity, originalContext: c.ropeOriginalContextLength)
            ropeTable(position: position, base: rope.base, scale: rope.scale, factors: factors)
            let (dims, rotated) = (Int32(c.headDim), Int32(c.ropeDimensions))
            ck_rope(s.q.pointer + i * qDim, Int32(c.headCount), dims, rotated, neox, state.rope.pointer)
            ck_rope(s.k.pointer + i * c.kvDim, Int32(c.kvHeadCount), dims, rotated, neox, state.rope.pointer)
        }
        // llama.cpp scales Gemma's and Phi 3's queries before the product (then multiplies Q·K by 1);
        // the others' products.
        var productScale = c.queryScale
        if c.scalesQueries {
            multiply(s.q.pointer, count: n * qDim, by: c.queryScale)
            productScale = 1
        }
        // The cache holds f16-representable values, as llama.cpp's f16 KV cache does.
        ck_round_f16(s.k.pointer, Int32(n * c.kvDim))
        ck_round_f16(s.v.pointer, Int32(n * c.kvDim))
        let window = c.isSlidingWindowLayer(l) ? c.gemma?.slidingWindow ?? 0 : 0
        switch layout {
        case .prompt(let cache):
            store(keysAndValuesOf: 0..<n, in: cache, at: cache.count, layer: l)
            attend(tokens: 0..<n, cache: cache, from: cache.count, layer: l, scale: productScale, window: window)
        case .step(let caches):
            for (i, cache) in caches.enumerated() {
                store(keysAndValuesOf: i..<i + 1, in: cache, at: cache.count, layer: l)
                attend(
                    tokens: i..<i + 1, cache: cache, from: cache.count, layer: l, scale: productScale, window: window)
            }
        }
        let ao = matmul.prepare(s.xb.pointer, tokens: n, cols: qDim, for: w.wo.type, products)
        matmul.multiply(w.wo, ao, into: s.xb2.pointer)
        if let post = w.postAttentionNorm {
            normalize(rows: n, of: s.xb2.pointer, into: s.xb2.pointer, width: c.dim, weights: post)
        }
        add(s.xb2.pointer, into: s.x.pointer, count: n * c.dim)
    }

    /// The feed-forward block of layer `l` for the batch's `n` tokens, reading and updating state.x.
    func feedForwardBlock(layer l: Int, tokens n: Int, _ products: MatmulRunner.Products) {
        let c = config
        let s = state
        let w = weights.layers[l]
        normalize(rows: n, of: s.x.pointer, into: s.xb.pointer, width: c.dim, weights: w.ffnNorm)
        let f = matmul.prepare(s.xb.pointer, tokens: n, cols: c.dim, for: w.gate.type, products)
        matmul.multiply(w.gate, f, into: s.hb.pointer)
        let fu = matmul.prepare(s.xb.pointer, tokens: n, cols: c.dim, for: w.up.type, products, reusing: f)
        matmul.multiply(w.up, fu, into: s.hb2.pointer)
        ck_gated_rows(
            matmul.pool.pointer, c.gemma != nil ? 1 : 0, s.hb.pointer, s.hb2.pointer, Int32(n), Int32(c.hiddenDim))
        let d = matmul.prepare(s.hb.pointer, tokens: n, cols: c.hiddenDim, for: w.down.type, products)
        matmul.multiply(w.down, d, into: s.xb2.pointer)
        if let post = w.postFFNNorm {
            normalize(rows: n, of: s.xb2.pointer, into: s.xb2.pointer, width: c.dim, weights: post)
        }
        add(s.xb2.pointer, into: s.x.pointer, count: n * c.dim)
    }

    /// RMSNorm of `rows` consecutive vectors of `width` floats (in place when `input == output`).
    func normalize(
        rows: Int, of input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, width: Int,
        weights: UnsafePointer<Float>
    ) {
        ck_rmsnorm_rows(matmul.pool.pointer, output, input, weights, Int32(rows), Int32(width), config.rmsEpsilon)
    }

    /// Copies the keys and values of batch rows `rows` into `cache` at positions `position`...
    private func store(keysAndValuesOf rows: Range<Int>, in cache: KVCache, at position: Int, layer l: Int) {
        let kv = config.kvDim
        (cache.keys[l] + position * kv).update(from: state.k.pointer + rows.lowerBound * kv, count: rows.count * kv)
        (cache.values[l] + position * kv).update(from: state.v.pointer + rows.lowerBound * kv, count: rows.count * kv)
    }

    /// Attention of batch rows `rows` (consecutive positions from `position`) over `cache`, into state.xb;
    /// Q·K is multiplied by `scale`, and only the last `window` positions are seen when window > 0.
    private func attend(
        tokens rows: Range<Int>, cache: KVCache, from position: Int, layer l: Int, scale: Float, window: Int
    ) {
        let c = config
        let s = state
        let qDim = c.headCount * c.headDim
        var job = ck_attention_job(
            q: s.q.pointer + rows.lowerBound * qDim, q_stride: Int32(qDim), tokens: Int32(rows.count),
            first_position: Int32(position), keys: cache.keys[l], values: cache.values[l], kv_stride: Int32(c.kvDim),
            heads: Int32(c.headCount), kv_heads: Int32(c.kvHeadCount), head_dim: Int32(c.headDim),
            scale: scale, scratch: s.attentionScratch.pointer,
            scratch_stride: Int32(s.attentionScratch.count / pool.size), out: s.xb.pointer + rows.lowerBound * qDim,
            out_stride: Int32(qDim), window: Int32(window),
            transposed: rows.count > 1 ? s.transposedValues.pointer : nil)
        ck_attention(pool.pointer, &job)
    }

    /// Fills state.rope with cos/sin of each rotated pair's angle at `position` (ggml's iterative theta)
    /// for a RoPE of frequency `base`, frequency scale `scale` and per-pair frequency divisors `factors`,
    /// each multiplied by the model's attention factor (1 but for LongRoPE), as ggml's rope multiplies them.
    private func ropeTable(position: Int, base: Float, scale: Float, factors: UnsafePointer<Float>?) {
        let c = config
        let thetaScale = powf(base, -2 / Float(c.ropeDimensions))
        let magnitude = c.ropeAttentionFactor
        var theta = Float(position)
        let table = state.rope.pointer
        for i in 0..<c.ropeDimensions / 2 {
            let angle = scale * (theta / (factors?[i] ?? 1))
            table[2 * i] = cosf(angle) * magnitude
            table[2 * i + 1] = sinf(angle) * magnitude
            theta *= thetaScale
        }
    }
}
