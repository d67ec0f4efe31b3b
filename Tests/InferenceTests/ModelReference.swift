// A tiny-model kit for the engine tests: writes random llama/qwen2/gemma3 models as GGUF files (through
// GGUFWriter) and runs them through a deliberately plain f32 reference forward pass written separately
// from the engine (llama2.c style: dequantized weights, full recomputation, no cache, no threads).
import Foundation
import GGUF
import GGUFTestSupport
import Inference

struct TinyModelSpec {
    var architecture = "llama"
    var dim = 64
    var hidden = 96
    var layers = 2
    var heads = 4
    var kvHeads = 2
    var vocabulary = 80
    var weightType: GGMLType = .q8_0
    var tiedOutput = true
    var ropeBase: Float = 10000
    var seed: UInt64 = 7
    /// gemma3 only: the local layers' window (`attention.sliding_window`), the final logit cap, and
    /// a period of local/global layers other than the default 6 (`attention.sliding_window_pattern`)
    /// with a local RoPE base other than the default 10000 (`rope.freq_base_swa`).
    var slidingWindow = 0
    var softcap: Float?
    var windowPattern: (period: Int, localBase: Float)?
    /// More metadata, written last (tests of bad files).
    var metadata: [String: GGUFValue] = [:]
    /// More f32 tensors, written last (tests of bad files).
    var extraTensors: [(name: String, values: [Float])] = []

    /// A spec whose weights are `type`: K-quant rows come in blocks of 256, so their model is wider.
    static func weights(_ type: GGMLType) -> TinyModelSpec {
        var spec = TinyModelSpec()
        spec.weightType = type
        if type.blockSize == 256 { (spec.dim, spec.hidden) = (256, 512) }
        return spec
    }
}

/// Weights (dequantized, as the engine sees them) and the GGUF bytes of a tiny random model.
struct TinyModel {
    let spec: TinyModelSpec
    var tensors: [String: [Float]] = [:]
    let bytes: [UInt8]

    init(_ spec: TinyModelSpec) {
        self.spec = spec
        var rng = SeededRandom(seed: spec.seed)
        var writer = GGUFWriter()
        let arch = spec.architecture
        writer.set("general.architecture", .string(arch))
        writer.set("general.name", .string("tiny-\(arch)"))
        writer.set("\(arch).embedding_length", .uint32(UInt32(spec.dim)))
        writer.set("\(arch).feed_forward_length", .uint32(UInt32(spec.hidden)))
        writer.set("\(arch).block_count", .uint32(UInt32(spec.layers)))
        writer.set("\(arch).attention.head_count", .uint32(UInt32(spec.heads)))
        writer.set("\(arch).attention.head_count_kv", .uint32(UInt32(spec.kvHeads)))
        writer.set("\(arch).context_length", .uint32(256))
        writer.set("\(arch).rope.freq_base", .float32(spec.ropeBase))
        writer.set("\(arch).attention.layer_norm_rms_epsilon", .float32(1e-6))
        if spec.slidingWindow > 0 {
            writer.set("\(arch).attention.sliding_window", .uint32(UInt32(spec.slidingWindow)))
        }
        if let cap = spec.softcap { writer.set("\(arch).final_logit_softcapping", .float32(cap)) }
        for (key, value) in spec.metadata { writer.set(key, value) }
        if let pattern = spec.windowPattern {
            writer.set("\(arch).attention.sliding_window_pattern", .uint32(UInt32(pattern.period)))
            writer.set("\(arch).rope.freq_base_swa", .float32(pattern.localBase))
        }
        var tensors: [String: [Float]] = [:]
        func matrix(_ name: String, rows: Int, cols: Int, scale: Float) {
            let values = (0..<rows * cols).map { _ in rng.uniform() * scale }
            // The tests have no K-quant weight quantizer: random K blocks (every byte pattern is valid) with
            // half scales sized so the weights fall near ±scale, as for the other types: the largest code
            // times the largest sub-scale is ~4000 for Q6_K (6-bit codes, int8 scales) and IQ4_XS (grid values
            // to ±127, 6-bit scales), a few hundred for the others.
            let type = spec.weightType
            let halfScale = scale / (type == .q6_K ? 1000 : type == .iq4_xs ? 4000 : 300)
            let encoded =
                type.blockSize == 256
                ? KQuantKernelTests.randomBlocks(type, count: values.count, seed: rng.next(), halfScale: halfScale)
                : Kernels.quantize(values, as: type)
            writer.addTensor(name, dimensions: [cols, rows], type: spec.weightType, data: encoded)
            tensors[name] = Kernels.dequantize(encoded, as: spec.weightType, count: values.count)
        }
        func vector(_ name: String, _ count: Int, around center: Float) {
            let values = (0..<count).map { _ in center + rng.uniform() * 0.2 }
            writer.addTensor(name, dimensions: [count], floats: values)
            tensors[name] = values
        }
        let headDim = spec.dim / spec.heads
        let kvDim = spec.kvHeads * headDim
        matrix("token_embd.weight", rows: spec.vocabulary, cols: spec.dim, scale: 1)
        for l in 0..<spec.layers {
            vector("blk.\(l).attn_norm.weight", spec.dim, around: 1)
            matrix("blk.\(l).attn_q.weight", rows: spec.dim, cols: spec.dim, scale: 0.3)
            matrix("blk.\(l).attn_k.weight", rows: kvDim, cols: spec.dim, scale: 0.3)
            matrix("blk.\(l).attn_v.weight", rows: kvDim, cols: spec.dim, scale: 0.3)
            matrix("blk.\(l).attn_output.weight", rows: spec.dim, cols: spec.dim, scale: 0.2)
            if arch == "qwen2" {
                vector("blk.\(l).attn_q.bias", spec.dim, around: 0)
                vector("blk.\(l).attn_k.bias", kvDim, around: 0)
                vector("blk.\(l).attn_v.bias", kvDim, around: 0)
            }
            if arch == "gemma3" {
                vector("blk.\(l).attn_q_norm.weight", headDim, around: 1)
                vector("blk.\(l).attn_k_norm.weight", headDim, around: 1)
                vector("blk.\(l).post_attention_norm.weight", spec.dim, around: 0.5)
                vector("blk.\(l).post_ffw_norm.weight", spec.dim, around: 0.5)
            }
            vector("blk.\(l).ffn_norm.weight", spec.dim, around: 1)
            matrix("blk.\(l).ffn_gate.weight", rows: spec.hidden, cols: spec.dim, scale: 0.3)
            matrix("blk.\(l).ffn_up.weight", rows: spec.hidden, cols: spec.dim, scale: 0.3)
            matrix("blk.\(l).ffn_down.weight", rows: spec.dim, cols: spec.hidden, scale: 0.2)
        }
        vector("output_norm.weight", spec.dim, around: 1)
        if !spec.tiedOutput { matrix("output.weight", rows: spec.vocabulary, cols: spec.dim, scale: 0.5) }
        for (name, values) in spec.extraTensors { writer.addTensor(name, dimensions: [values.count], floats: values) }
        self.tensors = tensors
        bytes = writer.bytes()
    }

    /// Rounds to the nearest IEEE half.
    static func half(_ x: Float) -> Float { Float(Float16(x)) }

    /// Logits after each of `tokens` (one array per position), by plain recomputation.
    func referenceLogits(_ tokens: [Int32]) -> [[Float]] {
        let s = spec
        let headDim = s.dim / s.heads
        let kvDim = s.kvHeads * headDim
        let qwen = s.architecture == "qwen2"
        let gemma = s.architecture == "gemma3"
        func w(_ name: String) -> [Float] { tensors[name]! }
        func matvec(_ m: [Float], _ x: [Float], rows: Int) -> [Float] {
            let cols = x.count
            return (0..<rows).map { r in (0..<cols).reduce(Float(0)) { $0 + m[r * cols + $1] * x[$1] } }
        }
        func norm(_ x: [Float], _ weight: [Float]) -> [Float] {
            let ms = x.map { Double($0) * Double($0) }.reduce(0, +) / Double(x.count)
            let scale = Float(1 / (ms + 1e-6).squareRoot())
            return zip(x, weight).map { $0 * scale * $1 }
        }
        func perHead(_ v: [Float], _ weight: [Float]) -> [Float] {
            stride(from: 0, to: v.count, by: headDim).flatMap { norm(Array(v[$0..<$0 + headDim]), weight) }
        }
        // Gemma 3 (as llama.cpp reads it): every sixth layer global, the others local with RoPE base 10000,
        // unless the file gives another period and base.
        let period = s.windowPattern?.period ?? 6
        func local(_ l: Int) -> Bool { gemma && s.slidingWindow > 0 && l % period < period - 1 }
        func rope(_ v: inout [Float], position: Int, base: Double) {
            for head in 0..<v.count / headDim {
                for i in 0..<headDim / 2 {
                    let angle = Double(position) * pow(base, -2 * Double(i) / Double(headDim))
                    let (a, b) =
                        qwen || gemma
                        ? (head * headDim + i, head * headDim + i + headDim / 2)
                        : (head * headDim + 2 * i, head * headDim + 2 * i + 1)
                    let (x0, x1) = (v[a], v[b])
                    v[a] = x0 * Float(cos(angle)) - x1 * Float(sin(angle))
                    v[b] = x0 * Float(sin(angle)) + x1 * Float(cos(angle))
                }
            }
        }
        let embedding = w("token_embd.weight")
        var xs = tokens.map { Array(embedding[Int($0) * s.dim..<(Int($0) + 1) * s.dim]) }
        if gemma { xs = xs.map { $0.map { $0 * Float(s.dim).squareRoot() } } }
        for l in 0..<s.layers {
            let base = Double(local(l) ? s.windowPattern?.localBase ?? 10000 : s.ropeBase)
            let p = "blk.\(l)."
            var keys: [[Float]] = []
            var values: [[Float]] = []
            var queries: [[Float]] = []
            for (pos, x) in xs.enumerated() {
                let h = norm(x, w(p + "attn_norm.weight"))
                var q = matvec(w(p + "attn_q.weight"), h, rows: s.dim)
                var k = matvec(w(p + "attn_k.weight"), h, rows: kvDim)
                var v = matvec(w(p + "attn_v.weight"), h, rows: kvDim)
                if qwen {
                    q = zip(q, w(p + "attn_q.bias")).map(+)
                    k = zip(k, w(p + "attn_k.bias")).map(+)
                    v = zip(v, w(p + "attn_v.bias")).map(+)
                }
                if gemma {
                    q = perHead(q, w(p + "attn_q_norm.weight"))
                    k = perHead(k, w(p + "attn_k_norm.weight"))
                }
                rope(&q, position: pos, base: base)
                rope(&k, position: pos, base: base)
                // llama.cpp's f16 KV cache: keys, values and the query meeting them are f16 numbers.
                queries.append(q.map(Self.half))
                keys.append(k.map(Self.half))
                values.append(v.map(Self.half))
            }
            for pos in 0..<xs.count {
                var attended = [Float](repeating: 0, count: s.dim)
                for head in 0..<s.heads {
                    let kvHead = head / (s.heads / s.kvHeads)
                    let q = queries[pos][head * headDim..<(head + 1) * headDim]
                    let first = local(l) ? max(0, pos - s.slidingWindow + 1) : 0
                    var scores = (first...pos).map { t in
                        zip(q, keys[t][kvHead * headDim..<(kvHead + 1) * headDim]).map(*).reduce(0, +)
                            / Float(headDim).squareRoot()
                    }
                    let top = scores.max()!
                    scores = scores.map { exp($0 - top) }
                    let total = scores.reduce(0, +)
                    scores = scores.map { Self.half($0 / total) }
                    for t in first...pos {
                        for d in 0..<headDim {
                            attended[head * headDim + d] += scores[t - first] * values[t][kvHead * headDim + d]
                        }
                    }
                }
                var o = matvec(w(p + "attn_output.weight"), attended, rows: s.dim)
                if gemma { o = norm(o, w(p + "post_attention_norm.weight")) }
                xs[pos] = zip(xs[pos], o).map(+)
                let h = norm(xs[pos], w(p + "ffn_norm.weight"))
                let gate = matvec(w(p + "ffn_gate.weight"), h, rows: s.hidden)
                let up = matvec(w(p + "ffn_up.weight"), h, rows: s.hidden)
                // SiLU, or Gemma's GELU in its tanh form.
                let act = zip(gate, up).map { g, u in
                    gemma ? 0.5 * g * (1 + tanh(0.7978845608 * (g + 0.044715 * g * g * g))) * u : g / (1 + exp(-g)) * u
                }
                var down = matvec(w(p + "ffn_down.weight"), act, rows: s.dim)
                if gemma { down = norm(down, w(p + "post_ffw_norm.weight")) }
                xs[pos] = zip(xs[pos], down).map(+)
            }
        }
        let output = s.tiedOutput ? embedding : w("output.weight")
        let logits = xs.map { matvec(output, norm($0, w("output_norm.weight")), rows: s.vocabulary) }
        guard let cap = s.softcap else { return logits }
        return logits.map { $0.map { tanh($0 / cap) * cap } }
    }
}

/// A small deterministic generator (SplitMix64) for test data.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}
