// Matmul: products of a quantized weight matrix with a batch of activation rows, over the thread pool.
// Activations are quantized to Q8_0/Q8_1/Q8_K and multiplied with integer products, as ggml does: one
// token through the per-row dot kernel, several through tiles of rows × tokens (CKernels gemm.h, AVX2)
// that unpack each weight block once for many tokens. Each output is summed as llama.cpp's AVX2 build sums
// it (the dot kernel's order, or for K-quants the order its batched products take: CKernels gemm.h), at
// every batch size, so a prompt's logits are llama.cpp's. Float weights (f32, f16, bf16) from
// `sgemmMinimumTokens` tokens on expand a tile of rows per thread and hand it to OpenBLAS sgemm. The weights
// are expanded once per batch, never kept.
internal import CKernels
internal import COpenBLAS
import GGUF

/// From this many tokens on, float weights go through sgemm.
let sgemmMinimumTokens = 32

/// Whether a batch of `type` rows is multiplied with integer products of 8-bit activations (every quantized
/// type): the tiles (four rows: Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K; eight, a row per lane: Q4_0, Q5_0,
/// Q8_0, IQ4_NL and every K-quant) or the per-row kernels per token, each output with the bits llama.cpp's
/// AVX2 build gives it (its vec_dot, the tinyBLAS it multiplies batches with, its repacked Q4_0, IQ4_NL and
/// Q4_K products, its tiled K-quant product). A prompt's logits depend on those bits: a last-bit difference in one
/// product flips the rounding of some value quantized after it, and the flips add up. Through sgemm with f32
/// activations, the tiny models' last logits after prompts of 40-400 tokens moved by up to 0.25 from
/// llama.cpp's (perplexity by more than 1% for SmolLM2 in Q2_K); with the activations rounded to their 8-bit
/// values first, by up to 0.1; through the integer products, by 5e-7, and Gemma 3's by 0.
/// Without AVX2 (NEON, scalar) every product takes the per-row dot kernel: the same bits, more slowly.
func multipliesBatchesInIntegers(_ type: GGMLType) -> Bool { ![.f32, .f16, .bf16].contains(type) }

/// Activations prepared for one weight type: quantized rows (or the f32 rows themselves).
struct PreparedActivation {
    let pointer: UnsafeRawPointer
    let stride: Int  // bytes between tokens
    let tokens: Int
    let type: GGMLType  // q8_0, q8_1 or f32
    let floats: UnsafePointer<Float>  // the f32 source, for the sgemm path (float weights)
    let path: Path
    let sessions: Bool  // one token per session (Products.integer): each computed as if alone

    enum Path {
        case dot  // dot kernels or tiles (ck_matvec)
        case sgemm  // sgemm over expanded tiles of float weights, f32 activations
    }
}

private struct GemmJob {
    var weights: WeightMatrix
    var input: UnsafePointer<Float>  // (tokens × cols)
    var tokens: Int
    var output: UnsafeMutablePointer<Float>  // (tokens × outputStride)
    var outputStride: Int
    var scratch: UnsafeMutablePointer<UnsafeMutablePointer<Float>>  // per thread (tileRows × cols)
}

private func gemmTask(_ context: UnsafeMutableRawPointer?, _ ith: Int32, _ nth: Int32) {
    let job = context!.assumingMemoryBound(to: GemmJob.self).pointee
    let w = job.weights
    let tile = RunState.tileRows
    let tiles = (w.rows + tile - 1) / tile
    let scratch = job.scratch[Int(ith)]
    for t in stride(from: Int(ith), to: tiles, by: Int(nth)) {
        let r0 = t * tile
        let n = min(tile, w.rows - r0)
        for r in 0..<n {
            ck_dequantize_row(Int32(w.type.rawValue), w.row(r0 + r), scratch + r * w.cols, Int32(w.cols))
        }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, blasint(job.tokens), blasint(n), blasint(w.cols), 1,
            job.input, blasint(w.cols), scratch, blasint(w.cols), 0, job.output + r0, blasint(job.outputStride))
    }
}

/// Runs matrix products on a pool, with the scratch memory they need.
final class MatmulRunner {
    let pool: ThreadPool
    let quantized: ByteBuffer
    let tiles: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    let tileBuffers: [FloatBuffer]

    init(pool: ThreadPool, quantized: ByteBuffer, tileBuffers: [FloatBuffer]) {
        self.pool = pool
        self.quantized = quantized
        self.tileBuffers = tileBuffers
        tiles = .allocate(capacity: tileBuffers.count)
        for (i, b) in tileBuffers.enumerated() { tiles[i] = b.pointer }
    }

    deinit { tiles.deallocate() }

    /// How a product is computed.
    enum Products {
        /// A prompt's tokens: integer products (sgemm for float weights from `sgemmMinimumTokens` tokens on).
        case byBatchSize
        /// Integer dot products whatever the number of tokens (a decoding step over many sessions, each
        /// token computed exactly as if alone).
        case integer
    }

    /// Quantizes `tokens` rows of `cols` floats for multiplication with `weightType` rows, or returns
    /// `previous` when it holds the same rows prepared as `weightType` needs them (the same activation format
    /// and path: Gemma 3's Q5_0 queries and Q8_0 values share their Q8_0 activations).
    func prepare(
        _ x: UnsafePointer<Float>, tokens: Int, cols: Int, for weightType: GGMLType,
        _ products: Products = .byBatchSize,
        reusing previous: PreparedActivation? = nil
    ) -> PreparedActivation {
        var type = Kernels.activationType(for: weightType)
        let path: PreparedActivation.Path
        if products != .byBatchSize || tokens < sgemmMinimumTokens {
            path = .dot
        } else {
            path = multipliesBatchesInIntegers(weightType) ? .dot : .sgemm
        }
        if path == .sgemm { type = .f32 }
        let sessions = products == .integer
        if let previous, previous.floats == x, previous.tokens == tokens, previous.type == type, previous.path == path,
            previous.sessions == sessions
        {
            return previous
        }
        if type == .f32 {
            return PreparedActivation(
                pointer: UnsafeRawPointer(x), stride: cols * 4, tokens: tokens, type: .f32, floats: x, path: path,
                sessions: sessions)
        }
        let stride = type.rowBytes(cols)
        for t in 0..<tokens {
            ck_quantize_row(Int32(type.rawValue), x + t * cols, quantized.pointer + t * stride, Int32(cols))
        }
        return PreparedActivation(
            pointer: UnsafeRawPointer(quantized.pointer), stride: stride, tokens: tokens, type: type, floats: x,
            path: path, sessions: sessions)
    }

    /// out[t][r] = w.row(r) · x[t] (+ bias[r]); `out` rows are `outputStride` apart (default w.rows). When
    /// these tokens are part of a larger product llama.cpp would run at once (a prompt's logits, a group at a
    /// time), `batch` gives its size and their first token's place in it.
    func multiply(
        _ w: WeightMatrix, _ x: PreparedActivation, into out: UnsafeMutablePointer<Float>,
        bias: UnsafePointer<Float>? = nil, outputStride: Int? = nil, batch: (tokens: Int, first: Int)? = nil
    ) {
        let stride = outputStride ?? w.rows
        if x.path == .sgemm {
            var job = GemmJob(
                weights: w, input: x.floats, tokens: x.tokens, output: out, outputStride: stride, scratch: tiles)
            withUnsafeMutablePointer(to: &job) { pool.run(gemmTask, UnsafeMutableRawPointer($0)) }
            if let bias {
                for t in 0..<x.tokens { for r in 0..<w.rows { out[t * stride + r] += bias[r] } }
            }
            return
        }
        precondition(x.type == Kernels.activationType(for: w.type), "activation prepared for another weight type")
        let job = ck_matvec_job(
            weights: w.base, type: Int32(w.type.rawValue), rows: Int32(w.rows), cols: Int32(w.cols),
            tokens: Int32(x.tokens), activation: x.pointer, activation_stride: x.stride, bias: bias, out: out,
            out_stride: Int32(stride), sessions: x.sessions ? 1 : 0, batch_tokens: Int32(batch?.tokens ?? 0),
            batch_first: Int32(batch?.first ?? 0))
        var product = job
        ck_matvec(pool.pointer, &product)
    }
}
