// The tokenizer against llama.cpp on the real SmolLM2 vocabulary: every golden string, with and without
// BOS and special-token parsing, must give exactly llama.cpp's ids, and decode back to the same text.
// Goldens come from `deploy/oracle/tokenizer_goldens.py` (llama-cpp-python, vocab_only).
import GGUF
import Inference
import Testing

@Suite("Tokenizer goldens (SmolLM2, llama.cpp oracle)")
struct TokenizerGoldenTests {
    @Test func readsVocabularyFromGGUF() throws {
        let vocabulary = try TokenizerFixtures.smolVocabulary.get()
        #expect(vocabulary.model == "gpt2")
        #expect(vocabulary.pre == "smollm")
        #expect(vocabulary.tokens.count == 49152)
        #expect(vocabulary.tokenTypes.count == 49152)
        #expect(vocabulary.merges.count == 48900)
        #expect(vocabulary.bosID == 1 && vocabulary.eosID == 2 && vocabulary.padID == 2)
        #expect(vocabulary.addBOS == false)
        #expect(vocabulary.tokens[1] == "<|im_start|>")
        #expect(ChatTemplateFamily.detect(vocabulary.chatTemplate) == .chatml)
    }

    @Test func hasEnoughGoldens() {
        #expect(TokenizerFixtures.cases.count >= 40)
    }

    @Test(arguments: TokenizerFixtures.cases)
    func matchesLlamaCpp(_ golden: TokenizerFixtures.Case) throws {
        let tokenizer = try TokenizerFixtures.smol.get()
        TokenizerFixtures.expectMatches(tokenizer, golden)
    }

    @Test(arguments: TokenizerFixtures.cases)
    func decodesBack(_ golden: TokenizerFixtures.Case) throws {
        let tokenizer = try TokenizerFixtures.smol.get()
        #expect(tokenizer.decode(golden.ids) == golden.text)
        #expect(tokenizer.decode(golden.ids) == golden.decoded)
    }

    @Test func userTextNeverBecomesAControlToken() throws {
        let tokenizer = try TokenizerFixtures.smol.get()
        let vocabulary = try TokenizerFixtures.smolVocabulary.get()
        for golden in TokenizerFixtures.cases {
            let ids = tokenizer.encode(golden.text, addBOS: false, parseSpecial: false)
            #expect(ids.allSatisfy { vocabulary.type(of: $0) == .normal }, "\(golden.text.debugDescription)")
        }
        #expect(tokenizer.encode("<|im_start|>", addBOS: false, parseSpecial: true) == [1])
        #expect(!tokenizer.encode("<|im_start|>", addBOS: false, parseSpecial: false).contains(1))
    }

    @Test func recognisesEndOfGeneration() throws {
        let tokenizer = try TokenizerFixtures.smol.get()
        #expect(tokenizer.isEndOfGeneration(2))  // <|im_end|>, the EOS
        #expect(tokenizer.isEndOfGeneration(0))  // <|endoftext|>
        #expect(!tokenizer.isEndOfGeneration(1))  // <|im_start|>
        let hello = tokenizer.encode("Hello", addBOS: false, parseSpecial: false)
        #expect(hello.allSatisfy { !tokenizer.isEndOfGeneration($0) })
        #expect(tokenizer.count == 49152)
    }

    @Test func rendersControlTokensOnlyWhenAsked() throws {
        let tokenizer = try TokenizerFixtures.smol.get()
        let ids = tokenizer.encode("<|im_start|>user\nhi<|im_end|>", addBOS: false, parseSpecial: true)
        #expect(tokenizer.decode(ids) == "user\nhi")
        #expect(tokenizer.decode(ids, renderSpecial: true) == "<|im_start|>user\nhi<|im_end|>")
        #expect(tokenizer.decode([-1, 99_999]) == "")
    }

    /// The SmolLM2 merges under other pre-tokenizer names, against llama.cpp loading the same vocabulary
    /// with `tokenizer.ggml.pre` changed: checks the Llama 3, Qwen 2, GPT-2 and default scanners.
    @Test(arguments: ["llama-bpe", "qwen2", "default", "gpt-2"])
    func otherPreTokenizersMatchLlamaCpp(_ pre: String) throws {
        let golden = try TokenizerFixtures.json("tokenizer_pretokenizers.json")
        let all = try #require(golden["pretokenizers"] as? [String: [[String: Any]]])
        let cases = try #require(all[pre])
        #expect(cases.count >= 40)
        var vocabulary = try TokenizerFixtures.smolVocabulary.get()
        vocabulary.pre = pre
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        for entry in cases {
            let text = try #require(entry["text"] as? String)
            #expect(
                tokenizer.encode(text, addBOS: false, parseSpecial: false) == TokenizerFixtures.ids(entry["ids"]),
                "\(pre): \(text.debugDescription)")
        }
    }

    @Test func encodesLongInputInLinearTime() throws {
        let tokenizer = try TokenizerFixtures.smol.get()
        let long = String(repeating: "a", count: 50_000)  // one word: BPE must not be quadratic
        let clock = ContinuousClock()
        let elapsed = clock.measure { _ = tokenizer.encode(long, addBOS: false, parseSpecial: false) }
        #expect(tokenizer.decode(tokenizer.encode(long, addBOS: false, parseSpecial: false)) == long)
        #expect(elapsed < .seconds(5))
    }
}
