// Kernels+Float: Swift's view of the f32 steps that follow llama.cpp's order of operations (CKernels'
// lanes.h): lane-ordered dot products, its expf approximation, softmax, SwiGLU, GeGLU and rotary embeddings.
// Public so the tests can hold each dispatched kernel against its portable twin, bit for bit.
internal import CKernels

extension Kernels {
    /// x · y in eight FMA lanes (element i in lane i % 8), lanes summed pairwise: llama.cpp's batch order.
    public static func dotLanes(_ x: [Float], _ y: [Float], _ flavour: Flavour) -> Float {
        precondition(x.count == y.count)
        return flavour == .fast
            ? ck_dot_lanes(Int32(x.count), x, y) : ck_dot_lanes_ref(Int32(x.count), x, y)
    }

    /// x · y in 32 FMA lanes reduced as ggml_vec_dot_f16 does: llama.cpp's single-token order.
    public static func dotQuad(_ x: [Float], _ y: [Float], _ flavour: Flavour) -> Float {
        precondition(x.count == y.count)
        return flavour == .fast
            ? ck_dot_quad(Int32(x.count), x, y) : ck_dot_quad_ref(Int32(x.count), x, y)
    }

    /// ggml's vectorised e^x approximation, one value (the portable reference).
    public static func expApproximation(_ x: Float) -> Float { ck_expf_ref(x) }

    /// Softmax of `x` in place.
    public static func softmax(_ x: inout [Float], _ flavour: Flavour) {
        let n = Int32(x.count)
        x.withUnsafeMutableBufferPointer {
            flavour == .fast ? ck_softmax($0.baseAddress, n, 0) : ck_softmax_ref($0.baseAddress, n, 0)
        }
    }

    /// gate = silu(gate) · up.
    public static func swiglu(_ gate: inout [Float], _ up: [Float], _ flavour: Flavour) {
        precondition(gate.count == up.count)
        let n = Int32(gate.count)
        gate.withUnsafeMutableBufferPointer { g in
            flavour == .fast ? ck_swiglu(g.baseAddress, up, n) : ck_swiglu_ref(g.baseAddress, up, n)
        }
    }

    /// gate = gelu(gate) · up, tanh-GELU over f16 as llama.cpp computes it (Gemma's feed-forward).
    public static func geglu(_ gate: inout [Float], _ up: [Float]) {
        precondition(gate.count == up.count)
        let n = Int32(gate.count)
        gate.withUnsafeMutableBufferPointer { ck_geglu($0.baseAddress, up, n) }
    }

    /// Rotates `heads` vectors of `headDim` floats in `x` by the cos/sin pairs in `table`.
    public static func rope(
        _ x: inout [Float], heads: Int, headDim: Int, ropeDims: Int, neox: Bool, table: [Float], _ flavour: Flavour
    ) {
        precondition(x.count >= heads * headDim && table.count >= ropeDims)
        x.withUnsafeMutableBufferPointer { v in
            let args = (Int32(heads), Int32(headDim), Int32(ropeDims), Int32(neox ? 1 : 0))
            if flavour == .fast {
                ck_rope(v.baseAddress, args.0, args.1, args.2, args.3, table)
            } else {
                ck_rope_ref(v.baseAddress, args.0, args.1, args.2, args.3, table)
            }
        }
    }
}

extension Kernels {
    /// The shape of an attention call: `heads` query heads over `kvHeads` key/value heads of `headDim` floats,
    /// `tokens` queries from position `firstPosition`, each seeing the last `window` positions (0: all).
    public struct AttentionShape: Sendable {
        public var tokens: Int
        public var firstPosition: Int
        public var heads: Int
        public var kvHeads: Int
        public var headDim: Int
        public var window: Int

        public init(tokens: Int, firstPosition: Int, heads: Int, kvHeads: Int, headDim: Int, window: Int) {
            (self.tokens, self.firstPosition, self.heads) = (tokens, firstPosition, heads)
            (self.kvHeads, self.headDim, self.window) = (kvHeads, headDim, window)
        }
    }

    /// Causal attention of `queries` (tokens × heads × headDim) over `keys` and `values` (positions ×
    /// kvHeads × headDim, positions ≥ firstPosition + tokens), as the engine attends: over a pool of `threads`,
    /// through the batched AVX2 variant where the CPU has it (`.fast`), or one head at a time (`.reference`).
    public static func attention(
        queries: [Float], keys: [Float], values: [Float], _ shape: AttentionShape, scale: Float, threads: Int,
        _ flavour: Flavour
    ) -> [Float] {
        let s = shape
        let (qDim, kvDim, positions) = (s.heads * s.headDim, s.kvHeads * s.headDim, s.firstPosition + s.tokens)
        precondition(queries.count >= s.tokens * qDim && keys.count >= positions * kvDim && values.count == keys.count)
        let pool = ThreadPool(threads: threads)
        let stride = Int(CK_ATTENTION_ROWS) * (positions + 7)
        var scratch = [Float](repeating: 0, count: stride * pool.size)
        var transposed = [Float](repeating: 0, count: kvDim * (positions + 7))
        var out = [Float](repeating: 0, count: s.tokens * qDim)
        var job = ck_attention_job(
            q: nil, q_stride: Int32(qDim), tokens: Int32(s.tokens), first_position: Int32(s.firstPosition), keys: nil,
            values: nil, kv_stride: Int32(kvDim), heads: Int32(s.heads), kv_heads: Int32(s.kvHeads),
            head_dim: Int32(s.headDim), scale: scale, scratch: nil, scratch_stride: Int32(stride), out: nil,
            out_stride: Int32(qDim), window: Int32(s.window), transposed: nil)
        queries.withUnsafeBufferPointer { q in
            keys.withUnsafeBufferPointer { k in
                values.withUnsafeBufferPointer { v in
                    scratch.withUnsafeMutableBufferPointer { scratch in
                        transposed.withUnsafeMutableBufferPointer { transposed in
                            out.withUnsafeMutableBufferPointer { out in
                                (job.q, job.keys, job.values) = (q.baseAddress, k.baseAddress, v.baseAddress)
                                (job.scratch, job.transposed, job.out) =
                                    (scratch.baseAddress, transposed.baseAddress, out.baseAddress)
                                flavour == .fast
                                    ? ck_attention(pool.pointer, &job) : ck_attention_ref(pool.pointer, &job)
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
