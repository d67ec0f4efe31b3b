// Tests of TransformerModel on tiny random models the tests write themselves: the engine's logits equal
// a plain reference forward pass (every weight type, llama, qwen2 and gemma3, tied and separate output, the
// single-token path and the batched one), and bad models fail with clear errors.
import Foundation
import GGUF
import GGUFTestSupport
import Inference
import Testing

struct ModelTests {
    static func load(_ tiny: TinyModel, threads: Int = 2) throws -> TransformerModel {
        try TransformerModel(file: GGUFFile(bytes: tiny.bytes), threads: threads)
    }

    /// The largest difference relative to the largest reference logit.
    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        let scale = max(1, b.map { abs($0) }.max() ?? 1)
        return (zip(a, b).map { abs($0 - $1) }.max() ?? .infinity) / scale
    }

    /// Relative tolerances: float weights meet f32 activations (rounding only); quantized weights meet
    /// q8-quantized activations, which moves logits by a few percent through two random layers.
    /// K-quants meet Q8_K activations, one scale per 256 values (eight times coarser than Q8_0's), which moves
    /// the random models' logits by up to ~9% (Q6_K, whose random weights have both signs in every block).
    static func tolerance(_ type: GGMLType) -> Float {
        if [.f32, .f16, .bf16].contains(type) { return 1e-3 }
        return Kernels.activationType(for: type) == .q8_K ? 0.12 : 0.04
    }
    /// A prompt's products quantize their activations as a decoding step's do (Q8_1 for these Q4_1 weights):
    /// measured up to 0.046 over the batches' ten positions
    /// (qwen2), 0.034 for single tokens after them; with f32 activations over sgemm, 0.009.
    static let batchTolerance: Float = 0.06

    @Test(arguments: Kernels.supportedWeightTypes)
    func tokenByTokenMatchesReference(type: GGMLType) throws {
        let spec = TinyModelSpec.weights(type)
        let tiny = TinyModel(spec)
        let model = try Self.load(tiny)
        let tokens: [Int32] = [1, 17, 42, 5, 79, 3]
        let reference = tiny.referenceLogits(tokens)
        let cache = model.makeCache(capacity: 32)
        for (i, token) in tokens.enumerated() {
            let logits = try model.evaluate([token], cache: cache)
            #expect(Self.maxDifference(logits, reference[i]) < Self.tolerance(type), "\(type) position \(i)")
        }
    }

    /// gemma3: six layers (five local with a window of 8 positions, one global), soft-capped when tied;
    /// untied, a period of 3 from the file (layers 2 and 5 global) and a local RoPE base of 5000.
    @Test(arguments: ["llama", "qwen2", "gemma3"], [true, false])
    func batchedPromptMatchesReference(architecture: String, tied: Bool) throws {
        var spec = TinyModelSpec()
        spec.architecture = architecture
        if architecture == "gemma3" {
            (spec.layers, spec.slidingWindow, spec.ropeBase) = (6, 8, 1_000_000)
            spec.softcap = tied ? 30 : nil
            spec.windowPattern = tied ? nil : (3, 5000)
        }
        spec.tiedOutput = tied
        spec.weightType = .q4_1
        spec.seed = tied ? 11 : 12
        let tiny = TinyModel(spec)
        let model = try Self.load(tiny)
        // 40 tokens: the batched path (≥ 32); then 3 more one by one on the same cache.
        let tokens = (0..<43).map { Int32(($0 * 37 + 5) % spec.vocabulary) }
        let reference = tiny.referenceLogits(tokens)
        let cache = model.makeCache(capacity: 64)
        var positions: [Int] = []
        try model.evaluate(Array(tokens[..<40]), cache: cache, logitsFrom: 30) { i, logits in
            positions.append(i)
            #expect(
                Self.maxDifference(Array(logits), reference[i]) < Self.batchTolerance,
                "\(architecture) batch position \(i)")
        }
        #expect(positions == Array(30..<40))
        for i in 40..<43 {
            let logits = try model.evaluate([tokens[i]], cache: cache)
            #expect(Self.maxDifference(logits, reference[i]) < Self.batchTolerance, "\(architecture) position \(i)")
        }
    }

    @Test func oneThreadAndTwoThreadsAgree() throws {
        let tiny = TinyModel(TinyModelSpec())
        let tokens: [Int32] = [3, 1, 4, 1, 5, 9, 2, 6]
        let one = try Self.load(tiny, threads: 1)
        let a = try one.evaluate(tokens, cache: one.makeCache(capacity: 8))
        let two = try Self.load(tiny, threads: 2)
        let b = try two.evaluate(tokens, cache: two.makeCache(capacity: 8))
        #expect(a == b)
    }

    @Test func cacheRemembersWhereBatchesBegan() throws {
        let tiny = TinyModel(TinyModelSpec())
        let model = try Self.load(tiny)
        let cache = model.makeCache(capacity: 16)
        _ = try model.evaluate([3, 1, 4, 1, 5], cache: cache)
        _ = try model.evaluate([9], cache: cache)
        _ = try model.evaluate([2, 6], cache: cache)
        #expect(cache.batchStarts == [0, 5, 6])
        #expect(cache.batchStart(atMost: 4) == 0 && cache.batchStart(atMost: 7) == 6)
        cache.truncate(to: 6)
        #expect(cache.batchStarts == [0, 5] && cache.count == 6)
        // Re-evaluating from a batch start reproduces the original logits bit for bit.
        let again = try model.evaluate([2, 6], cache: cache)
        let fresh = model.makeCache(capacity: 16)
        _ = try model.evaluate([3, 1, 4, 1, 5], cache: fresh)
        _ = try model.evaluate([9], cache: fresh)
        #expect(again == (try model.evaluate([2, 6], cache: fresh)))
    }

    @Test func rejectsUnknownArchitecture() throws {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("mamba"))
        #expect(throws: InferenceError.unsupportedArchitecture("mamba", supported: ModelConfig.supportedArchitectures))
        {
            try TransformerModel(file: GGUFFile(bytes: writer.bytes()))
        }
    }

    @Test func rejectsMissingTensorAndBadInput() throws {
        let tiny = TinyModel(TinyModelSpec())
        // Drop the last tensor by rebuilding without output_norm: simplest is renaming it in the bytes.
        var bytes = tiny.bytes
        let name = Array("output_norm.weight".utf8)
        if let at = (0..<bytes.count - name.count).first(where: { Array(bytes[$0..<$0 + name.count]) == name }) {
            bytes[at] = UInt8(ascii: "X")
        }
        #expect(throws: InferenceError.missingTensor("output_norm.weight")) {
            try TransformerModel(file: GGUFFile(bytes: bytes))
        }
        let model = try Self.load(tiny)
        let cache = model.makeCache(capacity: 4)
        #expect(throws: InferenceError.tokenOutOfRange(80, vocabulary: 80)) { try model.evaluate([80], cache: cache) }
        #expect(throws: InferenceError.contextFull(limit: 4)) { try model.evaluate([1, 2, 3, 4, 5], cache: cache) }
        #expect(cache.count == 0)
    }

    @Test func rejectsUnsupportedTensorType() throws {
        var spec = TinyModelSpec()
        spec.weightType = .q8_0
        var bytes = TinyModel(spec).bytes
        // Retype token_embd.weight (first tensor) as q4_K: its type id follows its name, rank and 2 dims.
        let name = Array("token_embd.weight".utf8)
        let at = (0..<bytes.count - name.count).first { Array(bytes[$0..<$0 + name.count]) == name }!
        bytes[at + name.count + 4 + 16] = UInt8(GGMLType.q4_K.rawValue)
        #expect(throws: (any Error).self) { try TransformerModel(file: GGUFFile(bytes: bytes)) }
    }

    /// A gemma3 file lacking one of Gemma's norms, or whose per-layer window flags do not cover every
    /// layer, is refused with the tensor or key named.
    @Test func rejectsIncompleteGemmaFiles() throws {
        var spec = TinyModelSpec()
        (spec.architecture, spec.layers, spec.slidingWindow) = ("gemma3", 6, 8)
        var bytes = TinyModel(spec).bytes
        let name = Array("blk.0.post_ffw_norm.weight".utf8)
        let at = try #require((0..<bytes.count - name.count).first { Array(bytes[$0..<$0 + name.count]) == name })
        bytes[at] = UInt8(ascii: "X")
        #expect(throws: InferenceError.missingTensor("blk.0.post_ffw_norm.weight")) {
            try TransformerModel(file: GGUFFile(bytes: bytes))
        }
        spec.metadata["gemma3.attention.sliding_window_pattern"] = .array(.bool, [.bool(true), .bool(false)])
        #expect(throws: InferenceError.self) { try TransformerModel(file: GGUFFile(bytes: TinyModel(spec).bytes)) }
        spec.metadata["gemma3.attention.sliding_window_pattern"] = .array(.bool, (0..<6).map { .bool($0 != 2) })
        let model = try TransformerModel(file: GGUFFile(bytes: TinyModel(spec).bytes))
        #expect((0..<6).map { model.config.isSlidingWindowLayer($0) } == [true, true, false, true, true, true])
    }
}
