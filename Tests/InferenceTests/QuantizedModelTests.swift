// SmolLM2 requantized by llama.cpp's llama-quantize into each low-bit type the engine reads (Q2_K, Q3_K,
// IQ4_NL, IQ4_XS; deploy/make-quant-models.sh makes the files at test-data time, `--pure` so every tensor
// whose rows allow it takes the type): `model verify` accepts each file, and the engine's perplexity on
// it is within 1% of llama.cpp's on the same file (goldens from deploy/oracle/quant_perplexity.py,
// Fixtures/quant_perplexity.json, over engine_goldens.json's tokens). `make test` makes the files; outside
// it and CI the suite is skipped, saying why, when they are not there.
import EnclaveTestSupport
import Foundation
import GGUF
import Inference
import Testing

struct QuantPerplexityGoldens: Decodable {
    struct Entry: Decodable {
        let file: String
        let bytes: Int
        let ctx: Int
        let chunks: Int
        let ppl: Double
    }
    let types: [String: Entry]

    static func load() throws -> QuantPerplexityGoldens {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/quant_perplexity.json")
        return try JSONDecoder().decode(QuantPerplexityGoldens.self, from: Data(contentsOf: url))
    }

    static let types: [GGMLType] = [.q2_K, .q3_K, .iq4_nl, .iq4_xs]
    static func path(_ type: GGMLType) -> String {
        "models/SmolLM2-135M-Instruct.\(type.description.uppercased()).gguf"
    }
    static let present = types.allSatisfy { FileManager.default.fileExists(atPath: path($0)) }
    static let absent: Comment =
        "models/SmolLM2-135M-Instruct.{Q2_K,Q3_K,IQ4_NL,IQ4_XS}.gguf are absent: run deploy/make-quant-models.sh"
}

@Suite(
    .serialized,
    .enabled(if: QuantPerplexityGoldens.present || TestSetUp.required, QuantPerplexityGoldens.absent))
struct QuantizedModelTests {
    let goldens: QuantPerplexityGoldens

    init() throws { goldens = try QuantPerplexityGoldens.load() }

    func entry(_ type: GGMLType) throws -> QuantPerplexityGoldens.Entry {
        let entry = try #require(goldens.types[type.description])
        #expect(entry.file == (QuantPerplexityGoldens.path(type) as NSString).lastPathComponent)
        let size = try FileManager.default.attributesOfItem(atPath: QuantPerplexityGoldens.path(type))[.size] as? Int
        try #require(size == entry.bytes, "\(entry.file) is not the file the goldens were recorded on")
        return entry
    }

    @Test(arguments: QuantPerplexityGoldens.types)
    func modelVerifyAcceptsTheFile(type: GGMLType) throws {
        _ = try entry(type)
        let report = try ModelVerification.verify(path: QuantPerplexityGoldens.path(type), contextLength: 512)
        #expect(report.isServable, "\(report.refusals)")
        let usage = try #require(report.tensorTypes.first { $0.type == type })
        #expect(usage.supported && usage.tensorCount >= 30, "\(type): \(usage)")
    }

    /// The bar is 1%; the engine sums every product as llama.cpp's AVX2 build does (Q4_0 and IQ4_NL
    /// block by block, the K-quants in its tiled order), so the figure is held to the recorded one itself.
    static let perplexityBound = 1e-6

    @Test(arguments: QuantPerplexityGoldens.types)
    func perplexityWithinOnePercentOfLlamaCpp(type: GGMLType) throws {
        let golden = try entry(type)
        let tokens = try EngineGoldens.load().perplexity.tokens
        let model = try TransformerModel(path: QuantPerplexityGoldens.path(type), threads: 2)
        let ratio = try GoldenChecks.perplexity(
            model,
            EngineGoldens.Perplexity(
                ctx: golden.ctx, tokens: tokens, ppl: golden.ppl, chunks: golden.chunks, builds: nil),
            within: Self.perplexityBound)
        print("\(type) perplexity ratio to llama.cpp: \(ratio)")
    }
}
