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
        /// The same chunks' perplexity from several llama.cpp builds (deploy/oracle/gemma_perplexity.py), where
        /// they were measured: the golden above and a native build with and without its weight repacking.
        let builds: [String: Double]?
    }
    let add_bos: Bool
    let prompts: [Prompt]
    let perplexity: Perplexity
    /// Gemma: perplexity over a context longer than the sliding window.
    let sliding_perplexity: Perplexity?

    static let modelPath = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

    static func load(_ name: String = "engine_goldens.json") throws -> EngineGoldens {
        // Read beside the sources (no resource bundle needed): Tests/InferenceTests/Fixtures/.
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/\(name)")
        return try JSONDecoder().decode(EngineGoldens.self, from: Data(contentsOf: url))
    }
}

/// The checks of a model against its llama.cpp goldens, shared by every model's golden suite.
enum GoldenChecks {
    /// The bar for logits, at the first position and (the engine follows llama.cpp's CPU
    /// arithmetic operation for operation: f16 cache values, its accumulation orders and expf; see
    /// CKernels/lanes.h) at the last.
    static let logitTolerance: Float = 0.2
    /// Greedy ids must agree until llama.cpp's own top-1/top-2 margin drops below this (the bar).
    static let nearTie: Float = 0.1

    /// llama.cpp's top-20 logits at each prompt's first position (the first token evaluated alone),
    /// within `logitTolerance`, and last (the whole prompt as one batch), within `later`; returns the
    /// largest differences seen at the first and last positions.
    @discardableResult
    static func logits(_ model: TransformerModel, _ goldens: EngineGoldens, later: Float = logitTolerance) throws
        -> (first: Float, last: Float)
    {
        var worst: (first: Float, last: Float) = (0, 0)
        func compare(_ ours: [Float], _ ids: [Int], _ values: [Float], _ bound: Float, _ label: String) -> Float {
            var largest: Float = 0
            for (id, value) in zip(ids, values) {
                largest = max(largest, abs(ours[id] - value))
                #expect(abs(ours[id] - value) < bound, "\(label), id \(id)")
            }
            return largest
        }
        for (n, p) in goldens.prompts.enumerated() {
            let first = try model.evaluate(Array(p.prompt.prefix(1)), cache: model.makeCache(capacity: 1))
            let f = compare(first, p.first_top_ids, p.first_top_logits, logitTolerance, "prompt \(n) first position")
            let last = try model.evaluate(p.prompt, cache: model.makeCache(capacity: p.prompt.count))
            let l = compare(last, p.last_top_ids, p.last_top_logits, later, "prompt \(n) last position")
            worst = (max(worst.first, f), max(worst.last, l))
        }
        return worst
    }

    /// Greedy continuations equal to llama.cpp's until its own top-1/top-2 margin drops below `nearTie`.
    static func greedy(_ model: TransformerModel, _ goldens: EngineGoldens, nearTie: Float = nearTie) throws {
        for (n, p) in goldens.prompts.enumerated() {
            let cache = model.makeCache(capacity: p.prompt.count + p.greedy.count)
            var logits = try model.evaluate(p.prompt, cache: cache)
            for (step, expected) in p.greedy.enumerated() {
                let argmax = Int32(logits.indices.max { logits[$0] < logits[$1] }!)
                if p.margins[step] < nearTie { break }  // llama.cpp itself nearly tied here
                #expect(argmax == expected, "prompt \(n) step \(step)")
                if argmax != expected { break }
                logits = try model.evaluate([argmax], cache: cache)
            }
        }
    }

    /// Perplexity within `bound` (the 1%) of llama.cpp's (each chunk opening with BOS when the
    /// model adds one, as llama-perplexity does); where several llama.cpp builds were measured, within
    /// `bound` of the range their figures span. Returns ours / the golden's.
    @discardableResult
    static func perplexity(
        _ model: TransformerModel, _ g: EngineGoldens.Perplexity, bos: Int32? = nil, within bound: Double = 0.01
    ) throws -> Double {
        let result = try model.perplexity(of: g.tokens, context: g.ctx, bos: bos)
        #expect(result.chunks == g.chunks)
        let figures = [g.ppl] + (g.builds.map { Array($0.values) } ?? [])
        let low = figures.min()! * (1 - bound), high = figures.max()! * (1 + bound)
        let each = (g.builds ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \(result.perplexity / $0.value)" }
        #expect(
            result.perplexity >= low && result.perplexity <= high,
            "ours \(result.perplexity), llama.cpp \(g.ppl), accepted \(low)...\(high)")
        if !each.isEmpty { print("ctx \(g.ctx) perplexity, ours / llama.cpp's: " + each.joined(separator: ", ")) }
        return result.perplexity / g.ppl
    }
}

@Suite(.serialized)
struct ModelGoldenTests {
    let goldens: EngineGoldens
    let model: TransformerModel

    init() throws {
        try #require(FileManager.default.fileExists(atPath: EngineGoldens.modelPath), "run deploy/fetch-model.sh")
        goldens = try EngineGoldens.load()
        model = try TransformerModel(path: EngineGoldens.modelPath, threads: 2)
    }

    @Test func logitsMatchLlamaCpp() throws { try GoldenChecks.logits(model, goldens) }

    @Test func greedyContinuationsMatchLlamaCpp() throws {
        #expect(goldens.prompts.count >= 5)
        try GoldenChecks.greedy(model, goldens)
    }

    @Test func perplexityWithinOnePercentOfLlamaCpp() throws { try GoldenChecks.perplexity(model, goldens.perplexity) }
}
