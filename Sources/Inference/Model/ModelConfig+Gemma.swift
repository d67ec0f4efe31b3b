// What a Gemma 3 transformer adds to the llama blueprint, read from `gemma3.*` metadata the way
// llama.cpp reads it: the embedding scaled by sqrt(width); pre- and post-norms around attention and
// feed-forward; RMS-normalised queries and keys; a GELU-gated feed-forward; local layers that attend to
// a sliding window with their own RoPE base, every sixth layer global; the query scale; optional final
// logit soft-capping. The GGUF converter already adds Gemma's +1 to every norm weight, so the norms
// multiply by the stored weights like any other RMSNorm.
public import GGUF

/// Gemma 3 hyperparameters beyond ``ModelConfig``'s.
public struct GemmaParameters: Sendable, Equatable {
    /// Positions a local layer attends to: its own and the `slidingWindow - 1` before it
    /// (`attention.sliding_window`; llama.cpp masks a key when query position − key position ≥ window).
    public var slidingWindow: Int
    /// Every `slidingWindowPattern`-th layer (the last of each group) is global; the rest are local.
    public var slidingWindowPattern: Int
    /// RoPE base of local layers (llama.cpp fixes it at 10000 for Gemma 3; global layers use freq_base).
    public var localRopeFrequencyBase: Float
    /// Each query is multiplied by this before Q·K.
    public var queryScale: Float
    /// sqrt(embedding_length): the embedding rows are multiplied by it.
    public var embeddingScale: Float
    /// Logits become cap·tanh(logits/cap) when the file names a cap (`final_logit_softcapping`).
    public var finalLogitSoftcap: Float?

    /// Reads the Gemma keys of `metadata`; `config` holds the common hyperparameters already read.
    init(metadata m: GGUFMetadata, config c: ModelConfig) throws(ModelError) {
        let arch = c.architecture
        let windowKey = "\(arch).attention.sliding_window"
        // llama.cpp: without a window (or with 0) every layer is global.
        let window = m.int(windowKey) ?? 0
        guard window >= 0 else { throw .badParameter(key: windowKey, reason: "\(window) is negative") }
        slidingWindow = window
        slidingWindowPattern = window > 0 ? 6 : 0
        localRopeFrequencyBase = 10000
        // llama.cpp (after gemma_pytorch): the 62-layer 27B scales by 1/sqrt(width / heads), every other
        // size by 1/sqrt(key_length).
        let width = c.layerCount == 62 ? Float(c.dim / c.headCount) : Float(c.headDim)
        queryScale = 1 / width.squareRoot()
        embeddingScale = Float(c.dim).squareRoot()
        let capKey = "\(arch).final_logit_softcapping"
        if let cap = m.double(capKey), cap != 0 {
            guard cap > 0, cap.isFinite else { throw .badParameter(key: capKey, reason: "\(cap)") }
            finalLogitSoftcap = Float(cap)
        } else {
            finalLogitSoftcap = nil
        }
    }

    /// Whether layer `l` is local (sliding-window): all but the last of every `slidingWindowPattern` layers.
    public func isSlidingWindowLayer(_ l: Int) -> Bool {
        slidingWindowPattern > 0 && l % slidingWindowPattern < slidingWindowPattern - 1
    }
}
