// Reading a vocabulary from GGUF metadata (files written in the test with the GGUF writer): llama.cpp's
// defaults for absent keys, and clear, coded errors for missing or unsupported ones. Also the
// validated-bytes entry point, which rejects invalid UTF-8 with the offset of the first bad byte.
import GGUF
import GGUFTestSupport
import Inference
import Testing

@Suite("TokenizerVocabulary from GGUF")
struct TokenizerVocabularyTests {
    private func file(_ edit: (inout [String: GGUFValue]) -> Void) throws -> GGUFFile {
        var metadata: [String: GGUFValue] = [
            "general.architecture": .string("llama"),
            "tokenizer.ggml.model": .string("gpt2"),
            "tokenizer.ggml.pre": .string("llama-bpe"),
            "tokenizer.ggml.tokens": .array(.string, TokenizerFixtures.byteAlphabet.map { .string($0) }),
            "tokenizer.ggml.merges": .array(.string, [.string("a b")]),
            "tokenizer.ggml.bos_token_id": .uint32(3),
            "tokenizer.ggml.eos_token_id": .uint32(4),
        ]
        edit(&metadata)
        var writer = GGUFWriter()
        for key in metadata.keys.sorted() { writer.set(key, metadata[key]!) }
        return try GGUFFile(bytes: writer.bytes())
    }

    @Test func appliesLlamaCppDefaults() throws {
        let vocabulary = try TokenizerVocabulary(gguf: file { _ in })
        #expect(vocabulary.addBOS)  // Llama 3 pre-tokenizers add BOS unless the file says not to
        #expect(vocabulary.bosID == 3 && vocabulary.eosID == 4 && vocabulary.eotID == nil)
        #expect(vocabulary.tokenTypes.isEmpty && vocabulary.chatTemplate == nil)
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        #expect(tokenizer.encode("a", addBOS: true, parseSpecial: false) == [3, 97])
        let explicit = try TokenizerVocabulary(gguf: file { $0["tokenizer.ggml.add_bos_token"] = .bool(false) })
        #expect(!explicit.addBOS)
        let noPre = try TokenizerVocabulary(gguf: file { $0["tokenizer.ggml.pre"] = nil })
        #expect(noPre.pre == "default" && !noPre.addBOS)
    }

    /// A SentencePiece vocabulary without the optional keys: llama.cpp's defaults (<unk> 0, <s> 1, </s> 2,
    /// BOS added, a space prefix), no merges needed, scores read and checked.
    @Test func appliesSentencePieceDefaults() throws {
        let spm = { (edit: (inout [String: GGUFValue]) -> Void) in
            try TokenizerVocabulary(
                gguf: self.file {
                    $0["tokenizer.ggml.model"] = .string("llama")
                    $0["tokenizer.ggml.merges"] = nil
                    $0["tokenizer.ggml.bos_token_id"] = nil
                    $0["tokenizer.ggml.eos_token_id"] = nil
                    $0["tokenizer.ggml.pre"] = .string("no-such-pre")  // ignored for SentencePiece
                    edit(&$0)
                })
        }
        let vocabulary = try spm { _ in }
        #expect(vocabulary.model == "llama" && vocabulary.merges.isEmpty && vocabulary.scores.isEmpty)
        #expect(vocabulary.unknownID == 0 && vocabulary.bosID == 1 && vocabulary.eosID == 2)
        #expect(vocabulary.addBOS && vocabulary.addSpacePrefix)
        let count = TokenizerFixtures.byteAlphabet.count
        let scored = try spm {
            $0["tokenizer.ggml.scores"] = .array(.float32, (0..<count).map { .float32(Float(-$0)) })
            $0["tokenizer.ggml.add_space_prefix"] = .bool(false)
        }
        #expect(scored.scores.count == count && scored.scores[5] == -5 && !scored.addSpacePrefix)
        #expect(throws: InferenceError.missingMetadata("tokenizer.ggml.scores")) {
            try spm { $0["tokenizer.ggml.scores"] = .array(.float32, [.float32(0)]) }
        }
    }

    @Test func reportsMissingAndUnsupportedKeys() throws {
        #expect(throws: InferenceError.missingMetadata("tokenizer.ggml.model")) {
            try TokenizerVocabulary(gguf: file { $0["tokenizer.ggml.model"] = nil })
        }
        #expect(throws: InferenceError.unsupportedTokenizer("ugm")) {
            try TokenizerVocabulary(gguf: file { $0["tokenizer.ggml.model"] = .string("ugm") })
        }
        #expect(throws: InferenceError.unsupportedPreTokenizer("tekken")) {
            try TokenizerVocabulary(gguf: file { $0["tokenizer.ggml.pre"] = .string("tekken") })
        }
        #expect(throws: InferenceError.missingMetadata("tokenizer.ggml.merges")) {
            try TokenizerVocabulary(gguf: file { $0["tokenizer.ggml.merges"] = .array(.uint32, [.uint32(1)]) })
        }
        #expect(throws: InferenceError.missingMetadata("tokenizer.ggml.tokens")) {
            try TokenizerVocabulary(gguf: file { $0["tokenizer.ggml.tokens"] = .string("not an array") })
        }
        let error = InferenceError.unsupportedPreTokenizer("tekken")
        #expect(error.code == "tokenizer.unsupported-pre")
        #expect(error.description.contains("smollm"))
    }

    @Test func rejectsInvalidUTF8WithItsOffset() throws {
        let tokenizer = try TokenizerFixtures.smol.get()
        #expect(throws: InferenceError.invalidUTF8(offset: 3)) {
            try tokenizer.encode(utf8: [0x61, 0xC3, 0xA9, 0xFF, 0x62], addBOS: false, parseSpecial: false)
        }
        #expect(throws: InferenceError.invalidUTF8(offset: 0)) {
            try tokenizer.encode(utf8: [0xE2, 0x82], addBOS: false, parseSpecial: false)
        }
        let ids = try tokenizer.encode(utf8: Array("héllo".utf8), addBOS: false, parseSpecial: false)
        #expect(ids == tokenizer.encode("héllo", addBOS: false, parseSpecial: false))
    }
}
