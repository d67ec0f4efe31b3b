// Text to token ids and back, for byte-level BPE vocabularies (`tokenizer.ggml.model = gpt2`) and
// SentencePiece ones (`llama`: Gemma, Llama 2, Mistral), matching llama.cpp's `llama_tokenize` /
// `llama_token_to_piece` exactly. Encoding runs in four steps:
//   1. special tokens: control tokens in the text become their ids only when the caller allows it
//      (`parseSpecial`), so user text containing `<|im_start|>` stays plain text; user-defined tokens
//      always match, as in llama.cpp;
//   2. BPE: pre-tokenization into words (`PreTokenizer`), each word's UTF-8 bytes in the byte-level
//      alphabet merged by rank (`BytePairEncoder`); SentencePiece: each piece of text merged by score
//      (`SentencePieceEncoder`), with a space in front after a special token when the model asks;
//   3. BOS/EOS added as the model's metadata asks.
// Immutable after init, so one instance serves every session.

/// A byte-level BPE or SentencePiece tokenizer built from a ``TokenizerVocabulary``.
public final class Tokenizer: Sendable {
    /// Tokenizer models (`tokenizer.ggml.model`) this type implements.
    public static let supportedModels = ["gpt2", "llama"]

    /// How plain text becomes tokens.
    private enum Model: Sendable {
        case bytePair(PreTokenizer, BytePairEncoder)
        case sentencePiece(SentencePieceEncoder)
    }

    /// The vocabulary this tokenizer was built from.
    public let vocabulary: TokenizerVocabulary
    private let model: Model
    private let tokenID: [String: Int32]
    /// Special tokens matched in text, longest first: (bytes, id, is control or unknown).
    private let specials: [(bytes: [UInt8], id: Int32, isControl: Bool)]
    private let endOfGeneration: Set<Int32>

    /// The number of tokens in the vocabulary.
    public var count: Int { vocabulary.tokens.count }

    /// Builds the tokenizer; throws when the model or pre-tokenizer is unsupported or the data inconsistent.
    public init(vocabulary: TokenizerVocabulary) throws(InferenceError) {
        guard Tokenizer.supportedModels.contains(vocabulary.model) else {
            throw .unsupportedTokenizer(vocabulary.model)
        }
        let pre = PreTokenizer(name: vocabulary.pre)
        guard vocabulary.model == "llama" || pre != nil else { throw .unsupportedPreTokenizer(vocabulary.pre) }
        guard !vocabulary.tokens.isEmpty else { throw .invalidVocabulary("the vocabulary has no tokens") }
        guard vocabulary.tokenTypes.isEmpty || vocabulary.tokenTypes.count == vocabulary.tokens.count else {
            throw .invalidVocabulary(
                "\(vocabulary.tokenTypes.count) token types for \(vocabulary.tokens.count) tokens")
        }
        for (name, id) in [
            ("bos", vocabulary.bosID), ("eos", vocabulary.eosID), ("eot", vocabulary.eotID),
            ("pad", vocabulary.padID), ("unknown", vocabulary.unknownID),
        ] {
            if let id, id < 0 || Int(id) >= vocabulary.tokens.count {
                throw .invalidVocabulary("\(name) token id \(id) is outside the vocabulary")
            }
        }
        self.vocabulary = vocabulary
        var ids = [String: Int32](minimumCapacity: vocabulary.tokens.count)
        for (id, text) in vocabulary.tokens.enumerated().reversed() { ids[text] = Int32(id) }
        self.tokenID = ids
        if let pre, vocabulary.model == "gpt2" {
            let encoder = try BytePairEncoder(
                merges: vocabulary.merges, tokenID: ids, vocabularyCount: vocabulary.tokens.count)
            model = .bytePair(pre, encoder)
        } else {
            guard vocabulary.scores.isEmpty || vocabulary.scores.count == vocabulary.tokens.count else {
                throw .invalidVocabulary("\(vocabulary.scores.count) scores for \(vocabulary.tokens.count) tokens")
            }
            model = .sentencePiece(
                SentencePieceEncoder(
                    tokens: vocabulary.tokens, scores: vocabulary.scores, unknownID: vocabulary.unknownID))
        }
        var specials = [(bytes: [UInt8], id: Int32, isControl: Bool)]()
        var endOfGeneration = Set<Int32>()
        for (index, text) in vocabulary.tokens.enumerated() {
            let id = Int32(index)
            let type = vocabulary.type(of: id)
            if (type == .control || type == .userDefined || type == .unknown) && !text.isEmpty {
                specials.append((Array(text.utf8), id, type != .userDefined))
            }
            if Tokenizer.endOfGenerationTexts.contains(text) { endOfGeneration.insert(id) }
        }
        specials.sort { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }
        self.specials = specials
        for id in [vocabulary.eosID, vocabulary.eotID].compactMap({ $0 }) { endOfGeneration.insert(id) }
        self.endOfGeneration = endOfGeneration
    }

    /// Token texts llama.cpp treats as ending generation when the vocabulary has them.
    static let endOfGenerationTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "<|eom_id|>",
        "</s>",
    ]

    /// Whether generating `id` ends the model's turn (EOS, EOT, or an end-of-turn token such as `<|im_end|>`).
    public func isEndOfGeneration(_ id: Int32) -> Bool { endOfGeneration.contains(id) }

    /// The id of the token whose text is exactly `text`, if there is one.
    public func id(of text: String) -> Int32? { tokenID[text] }

    /// Converts text to token ids.
    /// - Parameters:
    ///   - text: the text to encode.
    ///   - addBOS: add the special tokens the model's metadata asks for (BOS when `addBOS`, EOS when
    ///     `addEOS` in the vocabulary), like llama.cpp's `add_special`. A model whose metadata says
    ///     not to add BOS (SmolLM2) gets none.
    ///   - parseSpecial: recognise control tokens such as `<|im_start|>` written in the text. Never pass
    ///     true for text a user wrote.
    public func encode(_ text: String, addBOS: Bool, parseSpecial: Bool) -> [Int32] {
        var output = encode(pieces: [(text, parseSpecial)], addBOS: addBOS).ids
        if addBOS, vocabulary.addEOS, let eos = vocabulary.eosID { output.append(eos) }
        return output
    }

    /// Encodes consecutive pieces of one text as llama.cpp encodes their concatenation, except that special
    /// tokens are recognised only in the pieces marked `parseSpecial` (a chat template's own text), never in
    /// the others (what people wrote). BOS as in ``encode(_:addBOS:parseSpecial:)``, never EOS (a prompt
    /// goes on). Also returns, per piece, how many ids encode the text up to its end when that end is a
    /// boundary whatever follows (a special token ends the piece or begins the next text), else nil.
    public func encode(pieces: [(text: String, parseSpecial: Bool)], addBOS: Bool) -> (ids: [Int32], ends: [Int?]) {
        // Texts of adjacent pieces are joined (a SentencePiece `▁` prefix, or a merge, may span them);
        // closes[f] lists the pieces that end where fragment f ends.
        var fragments: [Fragment] = []
        var closes: [[Int]] = []
        var leading: [Int] = []
        for (k, piece) in pieces.enumerated() {
            for fragment in partition(Array(piece.text.utf8), parseSpecial: piece.parseSpecial) {
                if case .text(let bytes) = fragment, case .text(let previous)? = fragments.last {
                    fragments[fragments.count - 1] = .text(previous + bytes)
                    closes[closes.count - 1] = []
                } else {
                    fragments.append(fragment)
                    closes.append([])
                }
            }
            if closes.isEmpty { leading.append(k) } else { closes[closes.count - 1].append(k) }
        }
        var output = [Int32]()
        if addBOS, vocabulary.addBOS, let bos = vocabulary.bosID { output.append(bos) }
        var ends = [Int?](repeating: nil, count: pieces.count)
        for k in leading { ends[k] = output.count }
        // SentencePiece: a space prefix on text at the start or right after a special token.
        var afterSpecial = true
        for (f, fragment) in fragments.enumerated() {
            switch fragment {
            case .token(let id):
                output.append(id)
                afterSpecial = true
            case .text(let bytes):
                switch model {
                case .bytePair(let pre, let encoder): encodeWords(bytes, pre, encoder, into: &output)
                case .sentencePiece(let encoder):
                    encoder.encode(bytes, prefixSpace: vocabulary.addSpacePrefix && afterSpecial, into: &output)
                }
                afterSpecial = false
            }
            for k in closes[f] { ends[k] = output.count }
        }
        return (output, ends)
    }

    /// Converts raw bytes (a file's contents, say) to token ids, rejecting invalid UTF-8 rather than
    /// silently replacing it. The flags are those of ``encode(_:addBOS:parseSpecial:)``.
    /// - Throws: ``InferenceError/invalidUTF8(offset:)`` naming the first bad byte.
    public func encode(utf8 bytes: [UInt8], addBOS: Bool, parseSpecial: Bool) throws(InferenceError) -> [Int32] {
        try encode(Tokenizer.validatedText(bytes), addBOS: addBOS, parseSpecial: parseSpecial)
    }

    /// `bytes` as a string, or an error naming the offset of the first invalid UTF-8 sequence.
    public static func validatedText(_ bytes: [UInt8]) throws(InferenceError) -> String {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return String(decoding: bytes, as: UTF8.self)
            case .error: throw .invalidUTF8(offset: offset)
            }
        }
    }

    private enum Fragment {
        case text(ArraySlice<UInt8>)
        case token(Int32)
    }

    /// Splits text at special tokens, longest special first, as llama.cpp's `tokenizer_st_partition` does.
    private func partition(_ bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
        var fragments: [Fragment] = bytes.isEmpty ? [] : [.text(bytes[...])]
        for special in specials where parseSpecial || !special.isControl {
            var next = [Fragment]()
            for fragment in fragments {
                guard case .text(var rest) = fragment else {
                    next.append(fragment)
                    continue
                }
                while let match = Tokenizer.firstRange(of: special.bytes, in: rest) {
                    if match.lowerBound > rest.startIndex { next.append(.text(rest[..<match.lowerBound])) }
                    next.append(.token(special.id))
                    rest = rest[match.upperBound...]
                }
                if !rest.isEmpty { next.append(.text(rest)) }
            }
            fragments = next
        }
        return fragments
    }

    private static func firstRange(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Range<Int>? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var index = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while index <= last {
            if haystack[index] == first && haystack[index..<(index + needle.count)].elementsEqual(needle) {
                return index..<(index + needle.count)
            }
            index += 1
        }
        return nil
    }

    /// The words the pre-tokenizer cuts `text` into before BPE (special tokens are not looked for);
    /// SentencePiece has no pre-tokenizer, so the whole text. For diagnostics and tests; `encode` does not
    /// call it.
    public func words(_ text: String) -> [String] {
        guard case .bytePair(let preTokenizer, _) = model else { return text.isEmpty ? [] : [text] }
        let scalars = Array(text.unicodeScalars)
        var result = [String]()
        var start = 0
        for length in preTokenizer.split(scalars) {
            var word = String.UnicodeScalarView()
            word.append(contentsOf: scalars[start..<(start + length)])
            result.append(String(word))
            start += length
        }
        return result
    }

    /// Pre-tokenizes and BPE-encodes plain text (no special tokens in it).
    private func encodeWords(
        _ bytes: ArraySlice<UInt8>, _ preTokenizer: PreTokenizer, _ encoder: BytePairEncoder,
        into output: inout [Int32]
    ) {
        let text = String(decoding: bytes, as: UTF8.self)
        let scalars = Array(text.unicodeScalars)
        var utf8Offsets = [Int]()
        utf8Offsets.reserveCapacity(scalars.count + 1)
        var offset = 0
        for scalar in scalars {
            utf8Offsets.append(offset)
            offset += UTF8.width(scalar)
        }
        utf8Offsets.append(offset)
        let utf8 = Array(text.utf8)
        var start = 0
        for length in preTokenizer.split(scalars) {
            let word = utf8[utf8Offsets[start]..<utf8Offsets[start + length]]
            start += length
            if preTokenizer.ignoresMerges, let whole = tokenID[ByteLevel.encode(word)] {
                output.append(whole)
                continue
            }
            for symbol in encoder.encode(word) {
                if symbol < encoder.vocabularyCount {
                    output.append(symbol)
                } else if let text = encoder.extraText(symbol) {
                    // Not a token: llama.cpp falls back to the single bytes of the text that are tokens.
                    for byte in text.utf8 where byte < 0x80 {
                        if let id = tokenID[String(UnicodeScalar(byte))] { output.append(id) }
                    }
                }
            }
        }
    }

    /// The raw bytes token `id` stands for. Control tokens give their text only when `renderSpecial`;
    /// ids outside the vocabulary give nothing.
    public func bytes(of id: Int32, renderSpecial: Bool = false) -> [UInt8] {
        var bytes = [UInt8]()
        appendBytes(of: id, renderSpecial: renderSpecial, to: &bytes)
        return bytes
    }

    func appendBytes(of id: Int32, renderSpecial: Bool, to bytes: inout [UInt8]) {
        guard id >= 0, Int(id) < vocabulary.tokens.count else { return }
        let text = vocabulary.tokens[Int(id)]
        switch vocabulary.type(of: id) {
        case .normal:
            switch model {
            case .bytePair: ByteLevel.decode(text, into: &bytes)
            case .sentencePiece: Tokenizer.unescapeSpaces(text, into: &bytes)
            }
        case .byte: if let byte = Tokenizer.byteValue(text) { bytes.append(byte) }
        case .userDefined: bytes.append(contentsOf: text.utf8)
        case .control, .unknown: if renderSpecial { bytes.append(contentsOf: text.utf8) }
        default: break
        }
    }

    /// A SentencePiece piece's bytes with each `▁` turned back into a space.
    private static func unescapeSpaces(_ text: String, into bytes: inout [UInt8]) {
        let utf8 = Array(text.utf8)
        let space = SentencePieceEncoder.space
        var i = 0
        while i < utf8.count {
            if i + space.count <= utf8.count && utf8[i..<i + space.count].elementsEqual(space) {
                bytes.append(UInt8(ascii: " "))
                i += space.count
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
    }

    /// The byte a byte token `<0xNN>` stands for.
    private static func byteValue(_ text: String) -> UInt8? {
        guard text.utf8.count == 6, text.hasPrefix("<0x"), text.hasSuffix(">") else { return nil }
        return UInt8(text.dropFirst(3).prefix(2), radix: 16)
    }

    /// Converts token ids back to text; invalid UTF-8 (a token sequence cut mid-character) becomes U+FFFD.
    /// - Parameter renderSpecial: include the text of control tokens such as `<|im_end|>`.
    public func decode(_ ids: [Int32], renderSpecial: Bool = false) -> String {
        var bytes = [UInt8]()
        for id in ids { appendBytes(of: id, renderSpecial: renderSpecial, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
