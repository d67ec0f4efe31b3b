// ModelConfig: the blueprint of a llama-family transformer, read from GGUF metadata (`<arch>.*` keys)
// exactly where llama.cpp reads them. Nothing is hard-coded for a particular model; what sets Gemma 3
// apart (sliding-window layers, norms, GELU) is read in `ModelConfig+Gemma.swift`. Qwen 3 adds only
// per-head query/key norms; Phi 3 fuses Q/K/V and gate/up in its tensors (ModelWeights splits them).
public import GGUF

/// How rotary embeddings pair the dimensions of a head (llama.cpp's rope types).
public enum RopeStyle: String, Sendable {
    /// Adjacent pairs (x[2i], x[2i+1]): `llama` (the GGUF converter permutes Q/K to fit).
    case normal
    /// Halves (x[i], x[i + n/2]): `qwen2` and other NeoX-style models.
    case neox
}

/// Hyperparameters of a model.
public struct ModelConfig: Sendable, Equatable {
    /// Architectures this engine runs.
    public static let supportedArchitectures = ["llama", "qwen2", "qwen3", "phi3", "gemma3"]

    public var architecture: String
    /// Model width (`embedding_length`).
    public var dim: Int
    /// SwiGLU hidden width (`feed_forward_length`).
    public var hiddenDim: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    /// Per-head width (`attention.key_length`, default dim / heads).
    public var headDim: Int
    public var vocabularySize: Int
    /// Context the model was trained for (`context_length`).
    public var trainedContextLength: Int
    public var rmsEpsilon: Float
    public var ropeStyle: RopeStyle
    /// Rotated dimensions per head (`rope.dimension_count`, default headDim).
    public var ropeDimensions: Int
    public var ropeFrequencyBase: Float
    /// 1 / linear scaling factor (`rope.scaling.factor` when `rope.scaling.type` is linear).
    public var ropeFrequencyScale: Float
    /// The multiplier of every rotation's cos and sin (`rope.scaling.attn_factor`, default 1): Phi 3's
    /// LongRoPE scales attention this way.
    public var ropeAttentionFactor: Float
    /// The context the model was trained for before its RoPE was extended
    /// (`rope.scaling.original_context_length`, default the trained context). A session whose context is
    /// longer uses LongRoPE's long frequency factors, a shorter one the short factors, as in llama.cpp.
    public var ropeOriginalContextLength: Int
    /// Gemma-style extras (nil for llama and qwen2).
    public var gemma: GemmaParameters?

    /// Width of one position's keys (or values) across KV heads.
    public var kvDim: Int { kvHeadCount * headDim }
    /// Query heads per KV head.
    public var groupSize: Int { headCount / kvHeadCount }

    /// Reads the hyperparameters of `file`, validating each.
    public init(file: GGUFFile) throws(InferenceError) {
        let m = file.metadata
        guard let arch = m.string("general.architecture") else {
            throw .badParameter(key: "general.architecture", reason: "missing")
        }
        guard Self.supportedArchitectures.contains(arch) else {
            throw .unsupportedArchitecture(arch, supported: Self.supportedArchitectures)
        }
        func int(_ key: String, default value: Int? = nil, range: ClosedRange<Int> = 1...1 << 20) throws(InferenceError)
            -> Int
        {
            guard let v = m.int("\(arch).\(key)") ?? value else {
                throw .badParameter(key: "\(arch).\(key)", reason: "missing")
            }
            guard range.contains(v) else {
                throw .badParameter(key: "\(arch).\(key)", reason: "\(v) is out of \(range)")
            }
            return v
        }
        architecture = arch
        dim = try int("embedding_length")
        hiddenDim = try int("feed_forward_length")
        layerCount = try int("block_count", range: 1...1024)
        headCount = try int("attention.head_count", range: 1...1024)
        kvHeadCount = try int("attention.head_count_kv", default: headCount, range: 1...headCount)
        guard headCount % kvHeadCount == 0 else {
            throw .badParameter(key: "\(arch).attention.head_count_kv", reason: "does not divide head_count")
        }
        // The attention kernel keeps a head on the stack: up to 256 floats (every llama-family model fits).
        headDim = try int("attention.key_length", default: dim / headCount, range: 2...256)
        guard headDim % 2 == 0 else { throw .badParameter(key: "\(arch).attention.key_length", reason: "odd") }
        if let valueLength = m.int("\(arch).attention.value_length"), valueLength != headDim {
            throw .badParameter(key: "\(arch).attention.value_length", reason: "differs from key_length")
        }
        let embedding = file.tensor(named: "token_embd.weight")
        vocabularySize = try int(
            "vocab_size", default: embedding?.rowCount ?? m.strings("tokenizer.ggml.tokens")?.count)
        trainedContextLength = try int("context_length", default: 2048, range: 1...1 << 24)
        rmsEpsilon = Float(m.double("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-5)
        guard rmsEpsilon > 0, rmsEpsilon < 1 else {
            throw .badParameter(key: "\(arch).attention.layer_norm_rms_epsilon", reason: "\(rmsEpsilon)")
        }
        // llama.cpp's rope type per architecture: only llama rotates adjacent pairs.
        ropeStyle = arch == "llama" ? .normal : .neox
        ropeDimensions = try int("rope.dimension_count", default: headDim, range: 2...headDim)
        guard ropeDimensions % 2 == 0 else { throw .badParameter(key: "\(arch).rope.dimension_count", reason: "odd") }
        ropeFrequencyBase = Float(m.double("\(arch).rope.freq_base") ?? 10000)
        guard ropeFrequencyBase > 1 else {
            throw .badParameter(key: "\(arch).rope.freq_base", reason: "\(ropeFrequencyBase)")
        }
        ropeFrequencyScale = 1
        if let type = m.string("\(arch).rope.scaling.type"), type != "none" {
            guard type == "linear", let factor = m.double("\(arch).rope.scaling.factor"), factor > 0 else {
                throw .badParameter(key: "\(arch).rope.scaling.type", reason: "only linear scaling is supported")
            }
            ropeFrequencyScale = Float(1 / factor)
        }
        ropeAttentionFactor = Float(m.double("\(arch).rope.scaling.attn_factor") ?? 1)
        guard ropeAttentionFactor > 0, ropeAttentionFactor < 16 else {
            throw .badParameter(key: "\(arch).rope.scaling.attn_factor", reason: "\(ropeAttentionFactor)")
        }
        ropeOriginalContextLength = try int(
            "rope.scaling.original_context_length", default: trainedContextLength, range: 1...1 << 24)
        gemma = arch == "gemma3" ? try GemmaParameters(metadata: m, config: self) : nil
    }

    /// The multiplier of each query before Q·K: 1/sqrt(headDim), or Gemma's own.
    public var queryScale: Float { gemma?.queryScale ?? 1 / Float(headDim).squareRoot() }

    /// Whether llama.cpp's graph scales the queries themselves (before they are rounded to f16 for Q·K),
    /// as Gemma 3 and Phi 3 do, rather than the products Q·K (llama, qwen2, qwen3).
    public var scalesQueries: Bool { gemma != nil || architecture == "phi3" }

    /// Whether every query and key head is RMS-normalised before RoPE (`attn_q_norm`, `attn_k_norm`).
    public var hasQueryKeyNorms: Bool { gemma != nil || architecture == "qwen3" }

    /// Whether layer `l` attends only to the last `gemma.slidingWindow` positions.
    public func isSlidingWindowLayer(_ l: Int) -> Bool { gemma?.isSlidingWindowLayer(l) ?? false }

    /// The RoPE base and frequency scale of layer `l` (local Gemma layers have their own).
    public func rope(layer l: Int) -> (base: Float, scale: Float) {
        if let g = gemma, g.isSlidingWindowLayer(l) { return (g.localRopeFrequencyBase, 1) }
        return (ropeFrequencyBase, ropeFrequencyScale)
    }
}
