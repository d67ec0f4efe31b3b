// The real SmolLM2-135M-Instruct file against goldens recorded from llama.cpp by
// deploy/oracle/engine_check.py (Fixtures/engine_goldens.json): greedy continuations identical up to the
// first near-tie (llama.cpp's top-1/top-2 margin < 0.1), logits within 0.2, perplexity within 1%.
import Foundation
import GGUF
import Inference
import Testing

struct EngineGoldens: Decodable {
    struct Prompt: Decodable {
        let prompt: [Int32]
        let greedy: [Int32]
        let margins: [Float]
        let first_top_ids: [Int]
        let first_top_logits: [Float]
        let last_top_ids: [Int]
        let last_top_logits: [Float]
    }
    struct Perplexity: Decodable {
        let ctx: Int
        let tokens: [Int32]
        let ppl: Double
        let chunks: Int
    }
    let add_bos: Bool
    let prompts: [Prompt]
    let perplexity: Perplexity

    static let modelPath = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

    static func load() throws -> EngineGoldens {
        // Read beside the sources (no resource bundle needed): Tests/InferenceTests/Fixtures/.
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/engine_goldens.json")
        return try JSONDecoder().decode(EngineGoldens.self, from: Data(contentsOf: url))
    }
}

@Suite(.serialized)
struct ModelGoldenTests {
    /// The bar for the first position (one token: no attention mixing).
    static let logitTolerance: Float = 0.2
    /// Later positions: the engine follows llama.cpp's CPU arithmetic operation for operation (f16 cache
    /// values, its accumulation orders and expf; see CKernels/lanes.h), so the same bar holds there too.
    static let laterLogitTolerance: Float = 0.2
    /// Greedy ids must agree until llama.cpp's own top-1/top-2 margin drops below this (the bar).
    static let nearTie: Float = 0.1

    let goldens: EngineGoldens
    let model: TransformerModel

    init() throws {
        try #require(FileManager.default.fileExists(atPath: EngineGoldens.modelPath), "run deploy/fetch-model.sh")
        goldens = try EngineGoldens.load()
        model = try TransformerModel(path: EngineGoldens.modelPath, threads: 2)
    }

    @Test func logitsMatchLlamaCpp() throws {
        for (n, p) in goldens.prompts.enumerated() {
            let cache = model.makeCache(capacity: p.prompt.count)
            var first: [Float] = []
            var last: [Float] = []
            try model.evaluate(p.prompt, cache: cache, logitsFrom: 0) { i, logits in
                if i == 0 { first = Array(logits) }
                if i == p.prompt.count - 1 { last = Array(logits) }
            }
            for (id, value) in zip(p.first_top_ids, p.first_top_logits) {
                #expect(abs(first[id] - value) < Self.logitTolerance, "prompt \(n) first position, id \(id)")
            }
            for (id, value) in zip(p.last_top_ids, p.last_top_logits) {
                #expect(abs(last[id] - value) < Self.laterLogitTolerance, "prompt \(n) last position, id \(id)")
            }
        }
    }

    @Test func greedyContinuationsMatchLlamaCpp() throws {
        #expect(goldens.prompts.count >= 5)
        for (n, p) in goldens.prompts.enumerated() {
            let cache = model.makeCache(capacity: p.prompt.count + p.greedy.count)
            var logits = try model.evaluate(p.prompt, cache: cache)
            for (step, expected) in p.greedy.enumerated() {
                let argmax = Int32(logits.indices.max { logits[$0] < logits[$1] }!)
                if p.margins[step] < Self.nearTie { break }  // llama.cpp itself nearly tied here
                #expect(argmax == expected, "prompt \(n) step \(step)")
                if argmax != expected { break }
                logits = try model.evaluate([argmax], cache: cache)
            }
        }
    }

    @Test func perplexityWithinOnePercentOfLlamaCpp() throws {
        let g = goldens.perplexity
        let result = try model.perplexity(of: g.tokens, context: g.ctx, bos: nil)
        #expect(result.chunks == g.chunks)
        #expect(abs(result.perplexity - g.ppl) / g.ppl < 0.01, "ours \(result.perplexity), llama.cpp \(g.ppl)")
    }
}
