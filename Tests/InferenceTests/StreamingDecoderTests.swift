// Streaming decode never emits half a UTF-8 character: pieces are always whole characters, their
// concatenation is the full decode, and broken bytes become U+FFFD instead of vanishing or crashing.
import Inference
import Testing

@Suite("StreamingDecoder")
struct StreamingDecoderTests {
    /// A vocabulary whose token i (i < 256) is the single byte i.
    private func byteTokenizer() throws -> Tokenizer {
        try Tokenizer(vocabulary: TokenizerFixtures.tinyVocabulary(pre: "gpt-2", extra: [], merges: []))
    }

    @Test func holdsBackIncompleteCharacters() throws {
        var decoder = StreamingDecoder(tokenizer: try byteTokenizer())
        let pieces = "a😀é".utf8.map { decoder.append(Int32($0)) }
        #expect(pieces == ["a", "", "", "", "😀", "", "é"])
        #expect(decoder.finish() == "")
    }

    @Test func invalidBytesBecomeReplacementCharacters() throws {
        var decoder = StreamingDecoder(tokenizer: try byteTokenizer())
        #expect(decoder.append(0xFF) == "\u{FFFD}")
        #expect(decoder.append(0x80) == "\u{FFFD}")  // a stray continuation byte
        #expect(decoder.append(0xE0) == "")
        #expect(decoder.append(0x41) == "\u{FFFD}A")  // lead byte without its continuation
        #expect(decoder.append(0xF0) == "")
        #expect(decoder.append(0x9F) == "")
        #expect(decoder.finish() == "\u{FFFD}")  // cut off at the end of the stream
        #expect(decoder.append(0xED) == "")
        #expect(decoder.append(0xA0) != "")  // a surrogate can never complete: emitted at once
    }

    @Test func streamsRealTokensToTheSameTextAsDecode() throws {
        let tokenizer = try TokenizerFixtures.smol.get()
        for golden in TokenizerFixtures.cases {
            var decoder = StreamingDecoder(tokenizer: tokenizer)
            var pieces = golden.ids.map { decoder.append($0) }
            pieces.append(decoder.finish())
            #expect(pieces.joined() == tokenizer.decode(golden.ids), "\(golden.text.debugDescription)")
            #expect(!pieces.joined().contains("\u{FFFD}"))
        }
    }

    @Test func skipsControlTokensUnlessAsked() throws {
        let tokenizer = try TokenizerFixtures.smol.get()
        var plain = StreamingDecoder(tokenizer: tokenizer)
        #expect(plain.append(2) == "")
        var special = StreamingDecoder(tokenizer: tokenizer, renderSpecial: true)
        #expect(special.append(2) == "<|im_end|>")
    }
}
