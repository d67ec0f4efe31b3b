// ModelWeights: views of the weight tensors inside the memory-mapped GGUF file. Nothing is copied or
// expanded: matrices stay in their quantized encoding and are read in place by the kernels. GGUF tensor
// names are mapped to roles in one table (`TensorName`).
import GGUF

/// A matrix of `rows` rows of `cols` elements in `type`, stored row after row in the mapping.
struct WeightMatrix {
    let base: UnsafeRawPointer
    let type: GGMLType
    let rows: Int
    let cols: Int
    var rowBytes: Int { type.rowBytes(cols) }
    func row(_ r: Int) -> UnsafeRawPointer { base + r * rowBytes }
}

/// GGUF tensor names (llama.cpp's LLM_TENSOR_NAMES for llama / qwen2 / qwen3 / phi3 / gemma3).
enum TensorName {
    static let embedding = "token_embd.weight"
    static let outputNorm = "output_norm.weight"
    static let output = "output.weight"
    static let ropeFrequencies = "rope_freqs.weight"
    static let ropeFactorsShort = "rope_factors_short.weight"
    static let ropeFactorsLong = "rope_factors_long.weight"
    static func layer(_ i: Int, _ role: String) -> String { "blk.\(i).\(role)" }
}

/// One transformer block's weights. Shapes are (rows × cols) with cols contiguous.
struct LayerWeights {
    let attentionNorm: UnsafePointer<Float>  // (dim)
    let wq: WeightMatrix  // (heads*headDim × dim)
    let wk: WeightMatrix  // (kvHeads*headDim × dim)
    let wv: WeightMatrix  // (kvHeads*headDim × dim)
    let wo: WeightMatrix  // (dim × heads*headDim)
    let bq: UnsafePointer<Float>?  // (heads*headDim), qwen2 only
    let bk: UnsafePointer<Float>?  // (kvDim)
    let bv: UnsafePointer<Float>?  // (kvDim)
    let ffnNorm: UnsafePointer<Float>  // (dim)
    let gate: WeightMatrix  // (hiddenDim × dim)
    let up: WeightMatrix  // (hiddenDim × dim)
    let down: WeightMatrix  // (dim × hiddenDim)
    /// Gemma 3 and Qwen 3: RMSNorm weights of each query / key head (headDim); Gemma 3 only: of the
    /// attention output and of the feed-forward output (dim).
    let queryNorm: UnsafePointer<Float>?
    let keyNorm: UnsafePointer<Float>?
    let postAttentionNorm: UnsafePointer<Float>?
    let postFFNNorm: UnsafePointer<Float>?
}

/// All weights of a model: read-only views into `file`, which they keep alive.
struct ModelWeights {
    let file: GGUFFile
    let embedding: WeightMatrix  // (vocab × dim)
    let layers: [LayerWeights]
    let outputNorm: UnsafePointer<Float>  // (dim)
    let output: WeightMatrix  // (vocab × dim); the embedding when tied
    /// The divisors of each rotated pair's frequency (ropeDimensions / 2 each): Llama 3.1's `rope_freqs`,
    /// or Phi 3's LongRoPE pair, the short factors for contexts up to the original one and the long beyond.
    let ropeFrequencyFactors: UnsafePointer<Float>?
    let longRopeFactors: (short: UnsafePointer<Float>, long: UnsafePointer<Float>)?

    /// The frequency divisors of a session whose context holds `context` positions, nil for none: as
    /// llama.cpp chooses them, rope_freqs when present, else LongRoPE's long set when the context (which
    /// llama.cpp rounds up to a multiple of 256) is longer than the original one, else the short set.
    func ropeFactors(context: Int, originalContext: Int) -> UnsafePointer<Float>? {
        if let factors = ropeFrequencyFactors { return factors }
        let padded = (context + 255) / 256 * 256
        return longRopeFactors.map { padded > originalContext ? $0.long : $0.short }
    }

    /// Maps `file`'s tensors to the roles `c` needs. Every tensor of the file must have a role: one this
    /// engine does not know (an extension it would silently leave out) refuses the file, as llama.cpp's
    /// loader refuses a file with tensors its architecture does not create.
    init(file: GGUFFile, config c: ModelConfig) throws(InferenceError) {
        self.file = file
        var used: Set<String> = []
        func present(_ name: String) -> Bool { file.tensor(named: name) != nil }
        func info(_ name: String, _ shape: [Int]) throws(InferenceError) -> GGUFTensorInfo {
            guard let t = file.tensor(named: name) else { throw .missingTensor(name) }
            used.insert(name)
            guard t.dimensions == shape else { throw .badTensorShape(name: name, expected: shape, found: t.dimensions) }
            return t
        }
        func matrix(_ name: String, rows: Int, cols: Int) throws(InferenceError) -> WeightMatrix {
            let t = try info(name, [cols, rows])
            guard Kernels.supportedWeightTypes.contains(t.type) else {
                throw .unsupportedTensorType(
                    name: name, type: t.type.description, supported: Kernels.supportedWeightTypes.map(\.description))
            }
            return WeightMatrix(base: file.data(of: t).baseAddress!, type: t.type, rows: rows, cols: cols)
        }
        func vector(_ name: String, _ count: Int) throws(InferenceError) -> UnsafePointer<Float> {
            let t = try info(name, [count])
            guard t.type == .f32 else {
                throw .unsupportedTensorType(name: name, type: t.type.description, supported: ["f32"])
            }
            return file.data(of: t).baseAddress!.assumingMemoryBound(to: Float.self)
        }
        func optionalVector(_ name: String, _ count: Int) throws(InferenceError) -> UnsafePointer<Float>? {
            present(name) ? try vector(name, count) : nil
        }
        let qDim = c.headCount * c.headDim
        // Gemma's post-norms are required of a gemma3 file, the query/key norms of a gemma3 or qwen3 one;
        // another file that has them is refused below, as unused.
        func gemmaVector(_ name: String, _ count: Int) throws(InferenceError) -> UnsafePointer<Float>? {
            c.gemma == nil ? nil : try vector(name, count)
        }
        func queryKeyNorm(_ name: String) throws(InferenceError) -> UnsafePointer<Float>? {
            c.hasQueryKeyNorms ? try vector(name, c.headDim) : nil
        }
        // Rows [first, first + count) of a stored matrix (the parts of a fused one share its columns).
        func rows(_ m: WeightMatrix, _ first: Int, _ count: Int) -> WeightMatrix {
            WeightMatrix(base: m.row(first), type: m.type, rows: count, cols: m.cols)
        }
        embedding = try matrix(TensorName.embedding, rows: c.vocabularySize, cols: c.dim)
        var layers: [LayerWeights] = []
        for i in 0..<c.layerCount {
            let n = { (role: String) in TensorName.layer(i, role) }
            // Phi 3 stores Q, K and V as one matrix (`attn_qkv`, Q's rows first) and the gate and up
            // projections as one (`ffn_up`, the gate's rows first, as ggml_swiglu splits it); each part is
            // a view of its rows, so every output row is the same dot product as in llama.cpp's fused one.
            let wq: WeightMatrix
            let wk: WeightMatrix
            let wv: WeightMatrix
            if present(n("attn_qkv.weight")) {
                let qkv = try matrix(n("attn_qkv.weight"), rows: qDim + 2 * c.kvDim, cols: c.dim)
                wq = rows(qkv, 0, qDim)
                wk = rows(qkv, qDim, c.kvDim)
                wv = rows(qkv, qDim + c.kvDim, c.kvDim)
            } else {
                wq = try matrix(n("attn_q.weight"), rows: qDim, cols: c.dim)
                wk = try matrix(n("attn_k.weight"), rows: c.kvDim, cols: c.dim)
                wv = try matrix(n("attn_v.weight"), rows: c.kvDim, cols: c.dim)
            }
            let gate: WeightMatrix
            let up: WeightMatrix
            if c.architecture == "phi3" {
                let fused = try matrix(n("ffn_up.weight"), rows: 2 * c.hiddenDim, cols: c.dim)
                gate = rows(fused, 0, c.hiddenDim)
                up = rows(fused, c.hiddenDim, c.hiddenDim)
            } else {
                gate = try matrix(n("ffn_gate.weight"), rows: c.hiddenDim, cols: c.dim)
                up = try matrix(n("ffn_up.weight"), rows: c.hiddenDim, cols: c.dim)
            }
            layers.append(
                LayerWeights(
                    attentionNorm: try vector(n("attn_norm.weight"), c.dim),
                    wq: wq, wk: wk, wv: wv,
                    wo: try matrix(n("attn_output.weight"), rows: c.dim, cols: qDim),
                    bq: try optionalVector(n("attn_q.bias"), qDim),
                    bk: try optionalVector(n("attn_k.bias"), c.kvDim),
                    bv: try optionalVector(n("attn_v.bias"), c.kvDim),
                    ffnNorm: try vector(n("ffn_norm.weight"), c.dim),
                    gate: gate, up: up,
                    down: try matrix(n("ffn_down.weight"), rows: c.dim, cols: c.hiddenDim),
                    queryNorm: try queryKeyNorm(n("attn_q_norm.weight")),
                    keyNorm: try queryKeyNorm(n("attn_k_norm.weight")),
                    postAttentionNorm: try gemmaVector(n("post_attention_norm.weight"), c.dim),
                    postFFNNorm: try gemmaVector(n("post_ffw_norm.weight"), c.dim)))
        }
        self.layers = layers
        outputNorm = try vector(TensorName.outputNorm, c.dim)
        output =
            present(TensorName.output) ? try matrix(TensorName.output, rows: c.vocabularySize, cols: c.dim) : embedding
        let pairs = c.ropeDimensions / 2
        ropeFrequencyFactors = try optionalVector(TensorName.ropeFrequencies, pairs)
        // Phi 3's LongRoPE: both sets or neither.
        if c.architecture == "phi3", present(TensorName.ropeFactorsShort) || present(TensorName.ropeFactorsLong) {
            longRopeFactors = (
                try vector(TensorName.ropeFactorsShort, pairs), try vector(TensorName.ropeFactorsLong, pairs)
            )
        } else {
            longRopeFactors = nil
        }
        let unused = file.tensors.map(\.name).filter { !used.contains($0) }
        guard unused.isEmpty else { throw .unexpectedTensors(unused, architecture: c.architecture) }
    }
}
