// The real Gemma 3 270M Q4_K_M file (gemma3 architecture, SentencePiece vocabulary) against goldens
// recorded from llama.cpp: deploy/oracle/gemma_check.py (Fixtures/gemma3_goldens.json) for the forward
// pass, deploy/oracle/tokenizer_goldens.py (Fixtures/tokenizer_gemma3.json) for the tokenizer and the
// Gemma turn format. Skipped, saying why, when the file is not installed (deploy/fetch-test-models.sh).
//
// This model amplifies last-bit differences (hidden states reach ~3000, and a flipped rounding in an
// activation's 8-bit quantization moves a whole product): llama.cpp's own builds, with and without its weight
// repacking, differ by up to 0.56 in the last logits and by 3% in perplexity (deploy/oracle/gemma_spread.py
// and gemma_perplexity.py). So the engine sums every product, the softmax and the GELU table as llama.cpp's
// AVX2 build does (CKernels gemm.h, lanes.h), and reproduces the recorded goldens exactly: every logit and
// both perplexities, at every batch size. The bounds below are that, with room for nothing but a last bit.
import EnclaveTestSupport
import Foundation
import GGUF
import Inference
import Testing

@Suite(
    .serialized,
    .enabled(if: TokenizerFixtures.gemmaPresent || TestSetUp.required, TokenizerFixtures.gemmaAbsent))
struct GemmaGoldenTests {
    let goldens: EngineGoldens
    let model: TransformerModel

    init() throws {
        goldens = try EngineGoldens.load("gemma3_goldens.json")
        model = try TransformerModel(path: TokenizerFixtures.gemmaPath, threads: 2)
    }

    @Test func readsGemmaHyperparametersFromMetadata() throws {
        let c = model.config
        #expect(c.architecture == "gemma3" && c.ropeStyle == .neox)
        let gemma = try #require(c.gemma)
        #expect(gemma.slidingWindow == 512 && gemma.finalLogitSoftcap == nil)
        // llama.cpp: every sixth layer global (5, 11, 17), the rest local with RoPE base 10000.
        #expect((0..<c.layerCount).filter { !c.isSlidingWindowLayer($0) } == [5, 11, 17])
        #expect(c.rope(layer: 0).base == 10000 && c.rope(layer: 5).base == 1_000_000)
        #expect(c.queryScale == Float(0.0625))  // 1/sqrt(key_length 256)
    }

    /// Later positions, measured: equal to the recorded goldens (the issue asks 0.2).
    static let laterLogitBound: Float = 1e-3
    /// Greedy ids agree while llama.cpp's margin is at least this (the 0.1).
    static let greedyMargin = GoldenChecks.nearTie
    /// Measured: the recorded perplexities to 1e-12 (the issue asks 1%).
    static let perplexityBound = 1e-6

    /// Includes a prompt longer than the 512-position window, whose last logits need the local layers'
    /// mask.
    @Test func logitsMatchLlamaCpp() throws {
        #expect(goldens.prompts.contains { $0.prompt.count > 512 })
        let worst = try GoldenChecks.logits(model, goldens, later: Self.laterLogitBound)
        print("gemma3 logits: largest difference from llama.cpp, first position \(worst.first), last \(worst.last)")
    }

    @Test func greedyContinuationsMatchLlamaCpp() throws {
        #expect(goldens.prompts.count >= 5)
        try GoldenChecks.greedy(model, goldens, nearTie: Self.greedyMargin)
    }

    @Test func perplexityWithinOnePercentOfLlamaCpp() throws {
        #expect(goldens.add_bos)
        let bos: Int32 = 2  // <bos>, checked against the metadata in GemmaTokenizerTests
        let short = try GoldenChecks.perplexity(model, goldens.perplexity, bos: bos, within: Self.perplexityBound)
        // 1024 positions: the second half of the chunk lies beyond the local layers' window.
        let sliding = try GoldenChecks.perplexity(
            model, try #require(goldens.sliding_perplexity), bos: bos, within: Self.perplexityBound)
        print("gemma3 perplexity ratio to llama.cpp: ctx \(goldens.perplexity.ctx) \(short), ctx 1024 \(sliding)")
        // Not only inside the range of llama.cpp's builds: the recorded figure itself.
        #expect(abs(short - 1) < Self.perplexityBound && abs(sliding - 1) < Self.perplexityBound)
    }
}

@Suite(
    .enabled(if: TokenizerFixtures.gemmaPresent || TestSetUp.required, TokenizerFixtures.gemmaAbsent))
struct GemmaTokenizerTests {
    @Test func readsSentencePieceVocabulary() throws {
        let vocabulary = try TokenizerFixtures.gemmaVocabulary.get()
        #expect(vocabulary.model == "llama" && vocabulary.tokens.count == 262_144)
        #expect(vocabulary.scores.count == 262_144 && vocabulary.merges.isEmpty)
        #expect(vocabulary.bosID == 2 && vocabulary.eosID == 1 && vocabulary.unknownID == 3)
        #expect(vocabulary.addBOS && !vocabulary.addSpacePrefix)
        #expect(vocabulary.chatTemplate == nil)
        #expect(ChatTemplateFamily.detect(template: nil, vocabulary: vocabulary.tokens) == .gemma)
    }

    @Test func hasEnoughGoldens() { #expect(TokenizerFixtures.gemmaCases.count >= 50) }

    @Test(arguments: TokenizerFixtures.gemmaCases)
    func matchesLlamaCpp(_ golden: TokenizerFixtures.Case) throws {
        let tokenizer = try TokenizerFixtures.gemma.get()
        TokenizerFixtures.expectMatches(tokenizer, golden)
        #expect(tokenizer.decode(golden.ids) == golden.decoded)
    }

    /// Byte tokens and `▁` spaces decoded one token at a time, as a reply streams.
    @Test(arguments: TokenizerFixtures.gemmaCases)
    func streamsBackToTheText(_ golden: TokenizerFixtures.Case) throws {
        let tokenizer = try TokenizerFixtures.gemma.get()
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        var text = ""
        for id in golden.ids { text += decoder.append(id) }
        text += decoder.finish()
        #expect(text == golden.decoded)
    }

    /// Gemma turns from our template and encoder equal llama.cpp's built-in Gemma rendering tokenized as
    /// one text (after the BOS the model asks for), and generation stops at `<end_of_turn>`.
    @Test func encodesGemmaTurnsAsLlamaCpp() throws {
        let tokenizer = try TokenizerFixtures.gemma.get()
        let golden = try TokenizerFixtures.json("tokenizer_gemma3.json")
        let conversations = try #require(golden["modelTemplate"] as? [[String: Any]])
        #expect(conversations.count >= 4)
        let encoder = PromptEncoder(tokenizer: tokenizer, template: ChatTemplate(family: .gemma))
        for entry in conversations {
            let turns = try #require(entry["turns"] as? [[String: String]]).map {
                ChatTurn(role: ChatRole(rawValue: $0["role"] ?? "") ?? .user, content: $0["content"] ?? "")
            }
            #expect(encoder.encode(turns) == [2] + TokenizerFixtures.ids(entry["ids"]), "\(turns)")
        }
        let endOfTurn = try #require(tokenizer.id(of: "<end_of_turn>"))
        #expect(tokenizer.isEndOfGeneration(endOfTurn) && tokenizer.isEndOfGeneration(1))
        #expect(!tokenizer.isEndOfGeneration(try #require(tokenizer.id(of: "<start_of_turn>"))))
    }
}
