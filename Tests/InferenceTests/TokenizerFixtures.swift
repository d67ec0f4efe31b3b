// Shared test inputs for the tokenizer tests: the real SmolLM2 vocabulary (read once per process from
// the model file installed by `make model`) and the golden files recorded from llama.cpp by
// `deploy/oracle/tokenizer_goldens.py`.
import Foundation
import GGUF
import Inference
import Testing

enum TokenizerFixtures {
    /// The repository root, found from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let modelPath = root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path

    /// SmolLM2's vocabulary as stored in the model file.
    static let smolVocabulary: Result<TokenizerVocabulary, any Error> = Result {
        try TokenizerVocabulary(gguf: GGUFFile(path: modelPath))
    }

    /// A tokenizer over SmolLM2's vocabulary, built once.
    static let smol: Result<Tokenizer, any Error> = Result { try Tokenizer(vocabulary: smolVocabulary.get()) }

    /// A JSON fixture under `Tests/InferenceTests/Fixtures/`.
    static func json(_ name: String) throws -> [String: Any] {
        let url = root.appendingPathComponent("Tests/InferenceTests/Fixtures/\(name)")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        guard let dictionary = object as? [String: Any] else { throw FixtureError.malformed(name) }
        return dictionary
    }

    enum FixtureError: Error { case malformed(String) }

    /// One tokenization golden: the text and llama.cpp's ids for each flag combination.
    struct Case: Sendable, CustomTestStringConvertible {
        let text: String
        let ids: [Int32]
        let idsBOS: [Int32]
        let idsSpecial: [Int32]
        let idsBOSSpecial: [Int32]
        let decoded: String
        var testDescription: String { text.debugDescription }
    }

    /// `tokenizer` gives llama.cpp's ids for `golden` with and without BOS and special-token parsing.
    static func expectMatches(_ tokenizer: Tokenizer, _ golden: Case) {
        #expect(tokenizer.encode(golden.text, addBOS: false, parseSpecial: false) == golden.ids)
        #expect(tokenizer.encode(golden.text, addBOS: true, parseSpecial: false) == golden.idsBOS)
        #expect(tokenizer.encode(golden.text, addBOS: false, parseSpecial: true) == golden.idsSpecial)
        #expect(tokenizer.encode(golden.text, addBOS: true, parseSpecial: true) == golden.idsBOSSpecial)
    }

    static func ids(_ value: Any?) -> [Int32] { (value as? [Int] ?? []).map { Int32($0) } }

    /// The pinned Gemma 3 270M file (deploy/fetch-test-models.sh), a SentencePiece vocabulary.
    static let gemmaPath = root.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
    static let gemmaPresent = FileManager.default.fileExists(atPath: gemmaPath)
    static let gemmaAbsent: Comment = "models/gemma-3-270m-q4_k_m.gguf is absent: run deploy/fetch-test-models.sh"

    /// Gemma 3's vocabulary as stored in its model file.
    static let gemmaVocabulary: Result<TokenizerVocabulary, any Error> = Result {
        try TokenizerVocabulary(gguf: GGUFFile(path: gemmaPath))
    }

    /// A tokenizer over Gemma 3's vocabulary, built once.
    static let gemma: Result<Tokenizer, any Error> = Result { try Tokenizer(vocabulary: gemmaVocabulary.get()) }

    /// The SmolLM2 tokenization goldens.
    static let cases = cases(in: "tokenizer_smollm2.json")
    /// The Gemma 3 tokenization goldens.
    static let gemmaCases = cases(in: "tokenizer_gemma3.json")

    /// The tokenization goldens of one fixture file.
    static func cases(in file: String) -> [Case] {
        guard let golden = try? json(file), let cases = golden["cases"] as? [[String: Any]] else {
            return []
        }
        return cases.map {
            Case(
                text: $0["text"] as? String ?? "", ids: ids($0["ids"]), idsBOS: ids($0["ids_bos"]),
                idsSpecial: ids($0["ids_special"]), idsBOSSpecial: ids($0["ids_bos_special"]),
                decoded: $0["decoded"] as? String ?? "")
        }
    }

    /// A byte-level alphabet written independently of the code under test (GPT-2's `bytes_to_unicode`).
    static let byteAlphabet: [String] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var codes = printable
        var extra = 0
        for byte in 0..<256 where !printable.contains(byte) {
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
        }
        var table = [String](repeating: "", count: 256)
        for (byte, code) in zip(printable, codes) { table[byte] = String(UnicodeScalar(UInt32(code))!) }
        return table
    }()

    /// A tiny vocabulary: the 256 byte characters (id = byte), then `extra` tokens in order.
    static func tinyVocabulary(pre: String, extra: [String], merges: [String]) -> TokenizerVocabulary {
        TokenizerVocabulary(pre: pre, tokens: byteAlphabet + extra, merges: merges)
    }
}
