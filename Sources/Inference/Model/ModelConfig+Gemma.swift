// What a Gemma 3 transformer adds to the llama blueprint, read from `gemma3.*` metadata the way
// llama.cpp reads it: the embedding scaled by sqrt(width); pre- and post-norms around attention and
// feed-forward; RMS-normalised queries and keys; a GELU-gated feed-forward; local layers that attend to
// a sliding window with their own RoPE base (10000 unless `rope.freq_base_swa` says otherwise), every
// sixth layer global unless `attention.sliding_window_pattern` gives another period or a per-layer list;
// the query scale; optional final logit soft-capping. The GGUF converter already adds Gemma's +1 to
// every norm weight, so the norms multiply by the stored weights like any other RMSNorm.
import GGUF

/// Gemma 3 hyperparameters beyond ``ModelConfig``'s.
public struct GemmaParameters: Sendable, Equatable {
    /// Positions a local layer attends to: its own and the `slidingWindow - 1` before it
    /// (`attention.sliding_window`; llama.cpp masks a key when query position − key position ≥ window).
    public var slidingWindow: Int
    /// Which layers are local (sliding-window); the others are global.
    public var localLayers: [Bool]
    /// RoPE base of local layers (`rope.freq_base_swa`, default 10000; global layers use freq_base).
    public var localRopeFrequencyBase: Float
    /// Each query is multiplied by this before Q·K.
    public var queryScale: Float
    /// sqrt(embedding_length): the embedding rows are multiplied by it.
    public var embeddingScale: Float
    /// Logits become cap·tanh(logits/cap) when the file names a cap (`final_logit_softcapping`).
    public var finalLogitSoftcap: Float?

    /// Reads the Gemma keys of `metadata`; `config` holds the common hyperparameters already read.
    init(metadata m: GGUFMetadata, config c: ModelConfig) throws(InferenceError) {
        let arch = c.architecture
        let windowKey = "\(arch).attention.sliding_window"
        // llama.cpp: without a window (or with 0) every layer is global.
        let window = m.int(windowKey) ?? 0
        guard window >= 0 else { throw .badParameter(key: windowKey, reason: "\(window) is negative") }
        slidingWindow = window
        localLayers = try Self.localLayers(metadata: m, config: c, window: window)
        let baseKey = "\(arch).rope.freq_base_swa"
        localRopeFrequencyBase = Float(window > 0 ? m.double(baseKey) ?? 10000 : 10000)
        guard localRopeFrequencyBase > 1 else { throw .badParameter(key: baseKey, reason: "\(localRopeFrequencyBase)") }
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

    /// Whether layer `l` is local (sliding-window).
    public func isSlidingWindowLayer(_ l: Int) -> Bool { localLayers.indices.contains(l) && localLayers[l] }

    /// llama.cpp's rule: no window, no local layers; else `attention.sliding_window_pattern` as one flag
    /// per layer, or as a period n (default 6) where the last layer of every n is global (n = 0: all local).
    private static func localLayers(metadata m: GGUFMetadata, config c: ModelConfig, window: Int) throws(InferenceError)
        -> [Bool]
    {
        guard window > 0 else { return Array(repeating: false, count: c.layerCount) }
        let key = "\(c.architecture).attention.sliding_window_pattern"
        if let flags = m[key]?.arrayValue {
            let values = flags.compactMap(\.boolValue)
            guard values.count == c.layerCount else {
                throw .badParameter(key: key, reason: "\(flags.count) flags for \(c.layerCount) layers")
            }
            return values
        }
        let period = m.int(key) ?? 6
        guard period >= 0 else { throw .badParameter(key: key, reason: "\(period) is negative") }
        return (0..<c.layerCount).map { period == 0 || $0 % period < period - 1 }
    }
}
