// Matmul: products of a quantized weight matrix with a batch of activation rows, over the thread pool.
// Activations are quantized to Q8_0/Q8_1/Q8_K and multiplied with integer products, as ggml does: one
// token through the per-row dot kernel, several through tiles of rows × tokens (CKernels gemm.h, AVX2)
// that unpack each weight block once for many tokens and give each output the dot kernel's bits. From
// `sgemmMinimumTokens` tokens on (a prompt), every quantized type goes through panels (ck_panel_matmul,
// 512-bit VNNI) where the CPU has them; elsewhere the types outside `integerBatchTypes` expand a tile of
// weight rows to f32 per thread and hand it to OpenBLAS sgemm with f32 activations. Either way the weights
// are expanded once per batch, never kept.
internal import CKernels
internal import COpenBLAS
import GGUF

/// From this many tokens on, a product goes through panels where the CPU has them, else a type outside
/// `integerBatchTypes` goes through sgemm.
let sgemmMinimumTokens = 32

/// Weight types whose batches go through integer products with Q8_K (or Q8_0) activations where there are no
/// panels, as llama.cpp multiplies them at any batch size: with f32 activations over sgemm, perplexity moved
/// by more than 1% (SmolLM2 in Q2_K: 3%; Gemma 3 270M Q4_K_M's Q4_K and Q6_K tensors: 2.7-3.1%).
/// - Without panels, Q4_K, Q5_K and Q6_K go through the tiles: one thread, 640 × 2048 × 512 tokens, 49-53
///   GMAC/s against 46 for sgemm and 1.3-1.7x the per-row dot kernel; Q2_K, Q3_K, IQ4_NL and IQ4_XS take the
///   per-row dot kernel per token, slower than sgemm, kept for accuracy.
/// - Without panels, Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 take sgemm (Q4_1's tiles are no faster).
/// - Without AVX2 (NEON, scalar) every product takes the per-row dot kernel: the same bits, more slowly.
let integerBatchTypes: Set<GGMLType> = [.q2_K, .q3_K, .iq4_nl, .iq4_xs, .q4_K, .q5_K, .q6_K]

/// Activations prepared for one weight type: quantized rows (or the f32 rows themselves).
struct PreparedActivation {
    let pointer: UnsafeRawPointer
    let stride: Int  // bytes between tokens
    let tokens: Int
    let type: GGMLType  // q8_0, q8_1 or f32
    let floats: UnsafePointer<Float>  // the f32 source, for the sgemm path
    let path: Path

    enum Path {
        case dot  // dot kernels or tiles (ck_matvec)
        case sgemm  // sgemm over dequantized tiles, f32 activations
        case panels  // ck_panel_matmul, Q8_0 activations and their panel terms
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
    let panelTerms: ByteBuffer
    let tiles: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    let tileBuffers: [FloatBuffer]

    init(pool: ThreadPool, quantized: ByteBuffer, panelTerms: ByteBuffer, tileBuffers: [FloatBuffer]) {
        self.pool = pool
        self.quantized = quantized
        self.panelTerms = panelTerms
        self.tileBuffers = tileBuffers
        tiles = .allocate(capacity: tileBuffers.count)
        for (i, b) in tileBuffers.enumerated() { tiles[i] = b.pointer }
    }

    deinit { tiles.deallocate() }

    /// How a product is computed.
    enum Products {
        /// Integer dot products for fewer than `sgemmMinimumTokens` tokens, sgemm from there on (llama.cpp's
        /// choice for one sequence's batch).
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
        } else if ck_panel_available(Int32(weightType.rawValue)) != 0 {
            path = .panels
        } else {
            path = integerBatchTypes.contains(weightType) ? .dot : .sgemm
        }
        if path == .sgemm { type = .f32 }
        if let previous, previous.floats == x, previous.tokens == tokens, previous.type == type, previous.path == path {
            return previous
        }
        if type == .f32 {
            return PreparedActivation(
                pointer: UnsafeRawPointer(x), stride: cols * 4, tokens: tokens, type: .f32, floats: x, path: path)
        }
        let stride = type.rowBytes(cols)
        for t in 0..<tokens {
            ck_quantize_row(Int32(type.rawValue), x + t * cols, quantized.pointer + t * stride, Int32(cols))
        }
        if path == .panels {
            ck_panel_terms(
                Int32(type.rawValue), quantized.pointer, stride, Int32(tokens), Int32(cols),
                panelTerms.pointer.assumingMemoryBound(to: ck_panel_term.self))
        }
        return PreparedActivation(
            pointer: UnsafeRawPointer(quantized.pointer), stride: stride, tokens: tokens, type: type, floats: x,
            path: path)
    }

    /// out[t][r] = w.row(r) · x[t] (+ bias[r]); `out` rows are `outputStride` apart (default w.rows).
    func multiply(
        _ w: WeightMatrix, _ x: PreparedActivation, into out: UnsafeMutablePointer<Float>,
        bias: UnsafePointer<Float>? = nil, outputStride: Int? = nil
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
            out_stride: Int32(stride))
        if x.path == .panels {
            precondition(
                ck_panel_scratch_bytes(Int32(w.cols)) <= tileBuffers[0].count * MemoryLayout<Float>.size,
                "panel scratch smaller than a panel of \(w.cols) columns")
            tiles.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: tileBuffers.count) { scratch in
                var panels = ck_panel_job(
                    product: job, terms: UnsafePointer(panelTerms.pointer.assumingMemoryBound(to: ck_panel_term.self)),
                    scratch: UnsafePointer(scratch))
                ck_panel_matmul(pool.pointer, &panels)
            }
            return
        }
        var product = job
        ck_matvec(pool.pointer, &product)
    }
}
