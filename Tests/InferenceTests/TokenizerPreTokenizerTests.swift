// Each pre-tokenizer and the BPE merge order on tiny hand-made vocabularies, with expectations worked
// out by hand from the regexes llama.cpp uses (see PreTokenizer.swift).
import Inference
import Testing

@Suite("Tokenizer pre-tokenizers and BPE on tiny vocabularies")
struct TokenizerPreTokenizerTests {
    private func tokenizer(_ pre: String, extra: [String] = [], merges: [String] = []) throws -> Tokenizer {
        try Tokenizer(vocabulary: TokenizerFixtures.tinyVocabulary(pre: pre, extra: extra, merges: merges))
    }

    @Test func smollmIsolatesEachDigitThenSplitsLikeGPT2() throws {
        let words = try tokenizer("smollm").words("I'm 123 abc  def")
        #expect(words == ["I", "'m", " ", "1", "2", "3", " abc", " ", " def"])
    }

    @Test func llama3GroupsDigitsByThreeAndKeepsLineBreaksTogether() throws {
        let words = try tokenizer("llama-bpe").words("I'M 12345 abc\n\n  x")
        #expect(words == ["I", "'M", " ", "123", "45", " abc", "\n\n", " ", " x"])
        #expect(try tokenizer("llama-bpe").words("(hi) ...\nok") == ["(hi", ")", " ...\n", "ok"])
    }

    @Test func qwen2SplitsEveryDigit() throws {
        let words = try tokenizer("qwen2").words("I'M 12345 abc\n\n  x")
        #expect(words == ["I", "'M", " ", "1", "2", "3", "4", "5", " abc", "\n\n", " ", " x"])
    }

    @Test func gpt2ContractionsAreCaseSensitive() throws {
        #expect(try tokenizer("gpt-2").words("I'M 12345 abc") == ["I", "'", "M", " 12345", " abc"])
        #expect(try tokenizer("gpt-2").words("we're  here ") == ["we", "'re", " ", " here", " "])
    }

    @Test func defaultIsolatesPunctuationAndDigitTriples() throws {
        #expect(try tokenizer("default").words("$1,234.56 ok") == ["$", "1", ",", "234", ".", "56", " ok"])
        #expect(try tokenizer("default").words("x 12345") == ["x", " ", "123", "45"])
    }

    @Test func wordsCoverUnicodeText() throws {
        let text = "café 中文 😀\t\n e\u{301}"
        for pre in ["smollm", "llama-bpe", "qwen2", "gpt-2", "default"] {
            #expect(try tokenizer(pre).words(text).joined() == text, "\(pre)")
        }
        // A combining mark is not a letter: it leaves the word of its base letter.
        #expect(try tokenizer("gpt-2").words("e\u{301}x") == ["e", "\u{301}", "x"])
    }

    @Test func mergesApplyInRankOrderLeftmostFirst() throws {
        // "l o" outranks "l l": "llo" becomes "l" + "lo", not "ll" + "o".
        let ranked = try tokenizer("gpt-2", extra: ["lo", "ll"], merges: ["l o", "l l"])
        #expect(ranked.encode("llo", addBOS: false, parseSpecial: false) == [108, 256])
        // Equal candidates: the leftmost pair merges first.
        let tie = try tokenizer("gpt-2", extra: ["aa"], merges: ["a a"])
        #expect(tie.encode("aaa", addBOS: false, parseSpecial: false) == [256, 97])
        #expect(tie.encode("aaaa", addBOS: false, parseSpecial: false) == [256, 256])
    }

    @Test func mergesAcrossASpaceNeedTheByteLevelSpace() throws {
        let space = TokenizerFixtures.byteAlphabet[32]  // "Ġ"
        let t = try tokenizer("gpt-2", extra: ["\(space)h", "\(space)hi"], merges: ["\(space) h", "\(space)h i"])
        #expect(t.encode("hi hi", addBOS: false, parseSpecial: false) == [104, 105, 257])
        #expect(t.decode([104, 105, 257]) == "hi hi")
    }

    @Test func intermediateMergeResultsNeedNotBeTokens() throws {
        // "xy" is not a token but "xyz" is: merging goes through "xy".
        let t = try tokenizer("gpt-2", extra: ["xyz"], merges: ["x y", "xy z"])
        #expect(t.encode("xyz", addBOS: false, parseSpecial: false) == [256])
        // A word that stops at "xy" falls back to its single bytes, as llama.cpp does.
        #expect(t.encode("xy", addBOS: false, parseSpecial: false) == [120, 121])
    }

    @Test func specialTokensMatchOnlyWhenAllowedAndLongestFirst() throws {
        var vocabulary = TokenizerFixtures.tinyVocabulary(pre: "gpt-2", extra: ["<s>", "<s>x", "<u>"], merges: [])
        vocabulary.tokenTypes = [Int32](repeating: 1, count: 256) + [3, 3, 4]
        vocabulary.bosID = 256
        vocabulary.addBOS = true
        let t = try Tokenizer(vocabulary: vocabulary)
        #expect(t.encode("<s>xy", addBOS: false, parseSpecial: true) == [257, 121])
        #expect(t.encode("<s>xy", addBOS: false, parseSpecial: false) == [60, 115, 62, 120, 121])
        // User-defined tokens always match, as in llama.cpp.
        #expect(t.encode("a<u>", addBOS: false, parseSpecial: false) == [97, 258])
        #expect(t.encode("a", addBOS: true, parseSpecial: false) == [256, 97])
    }

    @Test func rejectsUnsupportedVocabularies() throws {
        var vocabulary = TokenizerFixtures.tinyVocabulary(pre: "gpt-2", extra: [], merges: [])
        vocabulary.model = "ugm"
        #expect(throws: InferenceError.unsupportedTokenizer("ugm")) { try Tokenizer(vocabulary: vocabulary) }
        vocabulary.model = "gpt2"
        vocabulary.pre = "klingon"
        #expect(throws: InferenceError.unsupportedPreTokenizer("klingon")) { try Tokenizer(vocabulary: vocabulary) }
        vocabulary.pre = "gpt-2"
        vocabulary.tokenTypes = [1]
        #expect(throws: InferenceError.self) { try Tokenizer(vocabulary: vocabulary) }
        vocabulary.tokenTypes = []
        vocabulary.merges = ["nospace"]
        #expect(throws: InferenceError.self) { try Tokenizer(vocabulary: vocabulary) }
        vocabulary.merges = []
        vocabulary.eosID = 10_000
        let error = #expect(throws: InferenceError.self) { try Tokenizer(vocabulary: vocabulary) }
        #expect(error?.code == "tokenizer.invalid-vocabulary")
    }
}
