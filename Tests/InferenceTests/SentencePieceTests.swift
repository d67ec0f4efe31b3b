// SentencePiece (`tokenizer.ggml.model = llama`) on tiny hand-made vocabularies, each expectation worked
// out by hand from the algorithm llama.cpp implements: merge the adjacent pair that forms the
// highest-scored token (leftmost on ties), spell leftovers with `<0xNN>` byte tokens, `▁` for spaces,
// a space prefix when the model asks for one. The real Gemma vocabulary is checked against llama.cpp
// in GemmaGoldenTests.
import Inference
import Testing

@Suite("SentencePiece tokenizer (tiny vocabularies)")
struct SentencePieceTests {
    /// `<unk>` 0, `<s>` 1, `</s>` 2, the 256 byte tokens 3...258, then `pieces` with their scores.
    private func tokenizer(
        _ pieces: [(String, Float)], addSpacePrefix: Bool = false, types: [Int32]? = nil
    ) throws -> Tokenizer {
        let bytes = (0..<256).map { "<0x" + String($0, radix: 16, uppercase: true).leftPadded(2) + ">" }
        let tokens = ["<unk>", "<s>", "</s>"] + bytes + pieces.map(\.0)
        let kinds: [Int32] = [2, 3, 3] + Array(repeating: 6, count: 256) + (types ?? pieces.map { _ in 1 })
        let vocabulary = TokenizerVocabulary(
            model: "llama", tokens: tokens, tokenTypes: kinds, merges: [], bosID: 1, eosID: 2, addBOS: true,
            scores: [0, 0, 0] + Array(repeating: 0, count: 256) + pieces.map(\.1),
            addSpacePrefix: addSpacePrefix, unknownID: 0)
        return try Tokenizer(vocabulary: vocabulary)
    }

    /// Id of the `i`-th piece passed to `tokenizer(_:)`.
    private func piece(_ i: Int32) -> Int32 { 259 + i }

    @Test func higherScoredPairMergesFirst() throws {
        let single: [(String, Float)] = [("a", -5), ("b", -5), ("c", -5)]
        let abFirst = try tokenizer(single + [("ab", -1), ("bc", -2)])
        #expect(abFirst.encode("abc", addBOS: false, parseSpecial: false) == [piece(3), piece(2)])
        let bcFirst = try tokenizer(single + [("ab", -2), ("bc", -1)])
        #expect(bcFirst.encode("abc", addBOS: false, parseSpecial: false) == [piece(0), piece(4)])
    }

    @Test func equalScoresMergeLeftmostFirst() throws {
        let t = try tokenizer([("a", -5), ("aa", -1)])
        // "aaa": pairs (0,1) and (1,2) tie; the left one merges, leaving a lone "a".
        #expect(t.encode("aaa", addBOS: false, parseSpecial: false) == [piece(1), piece(0)])
    }

    @Test func mergedPiecesKeepMerging() throws {
        let t = try tokenizer([("a", -9), ("b", -9), ("ab", -3), ("abab", -1)])
        #expect(t.encode("abab", addBOS: false, parseSpecial: false) == [piece(3)])
        #expect(t.encode("ababa", addBOS: false, parseSpecial: false) == [piece(3), piece(0)])
    }

    @Test func spacesBecomeTheLowerBlockAndDecodeBack() throws {
        // "hi hi" is h i ▁ h i: ▁h (-1.5) merges, then ▁h + i into ▁hi (-1); "hi" is no token.
        let t = try tokenizer([("\u{2581}", -2), ("h", -3), ("i", -3), ("\u{2581}hi", -1), ("\u{2581}h", -1.5)])
        let ids = t.encode("hi hi", addBOS: false, parseSpecial: false)
        #expect(ids == [piece(1), piece(2), piece(3)])
        #expect(t.decode(ids) == "hi hi")
    }

    @Test func spacePrefixOnlyWhenTheModelAsksAndAfterSpecials() throws {
        let pieces: [(String, Float)] = [("\u{2581}", -2), ("x", -3), ("\u{2581}x", -1)]
        let plain = try tokenizer(pieces)
        #expect(plain.encode("x", addBOS: true, parseSpecial: false) == [1, piece(1)])
        let prefixed = try tokenizer(pieces, addSpacePrefix: true)
        #expect(prefixed.encode("x", addBOS: true, parseSpecial: false) == [1, piece(2)])
        // After a special token parsed from the text, the next text gets the prefix again.
        #expect(prefixed.encode("x</s>x", addBOS: false, parseSpecial: true) == [piece(2), 2, piece(2)])
    }

    @Test func unknownCharactersFallBackToBytes() throws {
        let t = try tokenizer([("a", -1)])
        // "é" is C3 A9 in UTF-8; byte <0xNN> is token 3 + NN.
        let (high, low): (Int32, Int32) = (3 + 0xC3, 3 + 0xA9)
        let ids = t.encode("aé", addBOS: false, parseSpecial: false)
        #expect(ids == [piece(0), high, low])
        #expect(t.decode(ids) == "aé")
        var stream = StreamingDecoder(tokenizer: t)
        #expect(stream.append(piece(0)) == "a")
        #expect(stream.append(high) == "")  // half a character waits
        #expect(stream.append(low) == "é")
    }

    @Test func controlTokensStayTextUnlessParsed() throws {
        let t = try tokenizer([("<", -1), ("/", -1), ("s", -1), (">", -1)])
        #expect(t.encode("</s>", addBOS: false, parseSpecial: true) == [2])
        #expect(t.encode("</s>", addBOS: false, parseSpecial: false) == [piece(0), piece(1), piece(2), piece(3)])
        #expect(t.decode([2]) == "" && t.decode([2], renderSpecial: true) == "</s>")
    }

    @Test func rejectsScoresOfTheWrongLength() throws {
        var vocabulary = TokenizerVocabulary(model: "llama", tokens: ["a", "b"], merges: [], scores: [0])
        #expect(throws: InferenceError.self) { try Tokenizer(vocabulary: vocabulary) }
        vocabulary.model = "ugm"
        #expect(throws: InferenceError.unsupportedTokenizer("ugm")) { try Tokenizer(vocabulary: vocabulary) }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
