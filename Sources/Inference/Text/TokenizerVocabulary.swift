// The tokenizer's view of a model file: the token list, token kinds, BPE merges and special ids that
// GGUF stores under `tokenizer.ggml.*`. It is plain data so that tests can build tiny vocabularies by
// hand and the engine can build one from a GGUF file (`TokenizerVocabulary+GGUF.swift`).

/// The vocabulary and settings a ``Tokenizer`` is built from, as GGUF metadata describes them.
public struct TokenizerVocabulary: Sendable, Equatable {
    /// What a token is, with llama.cpp's numbering (`tokenizer.ggml.token_type`).
    public enum TokenType: Int32, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// The tokenizer model (`tokenizer.ggml.model`): `gpt2` (byte-level BPE) or `llama` (SentencePiece).
    public var model: String
    /// The pre-tokenizer name (`tokenizer.ggml.pre`), e.g. `smollm`, `llama-bpe`, `qwen2`, `default`.
    public var pre: String
    /// Token texts indexed by token id: in byte-level form for BPE (`Ġ` stands for a space), with `▁`
    /// for a space and `<0xNN>` byte tokens for SentencePiece.
    public var tokens: [String]
    /// One ``TokenType`` raw value per token; empty means every token is normal.
    public var tokenTypes: [Int32]
    /// BPE merges, `"left right"`, in priority order (index = rank); SentencePiece has none.
    public var merges: [String]
    /// SentencePiece scores, one per token (higher merges first); empty for BPE.
    public var scores: [Float]
    /// SentencePiece: put a space in front of text that starts a prompt or follows a special token.
    public var addSpacePrefix: Bool
    public var bosID: Int32?
    public var eosID: Int32?
    /// End of turn (`<|eot_id|>` in Llama 3), when the model names one.
    public var eotID: Int32?
    public var padID: Int32?
    /// The unknown token (`<unk>`), when the model names one.
    public var unknownID: Int32?
    /// Whether the model wants a BOS token in front of every prompt.
    public var addBOS: Bool
    /// Whether the model wants an EOS token after every prompt.
    public var addEOS: Bool
    /// The Jinja chat template shipped with the model (`tokenizer.chat_template`), if any.
    public var chatTemplate: String?

    /// Creates a vocabulary from its parts; see the properties for their meaning.
    public init(
        model: String = "gpt2", pre: String = "default", tokens: [String], tokenTypes: [Int32] = [],
        merges: [String], bosID: Int32? = nil, eosID: Int32? = nil, eotID: Int32? = nil, padID: Int32? = nil,
        addBOS: Bool = false, addEOS: Bool = false, chatTemplate: String? = nil, scores: [Float] = [],
        addSpacePrefix: Bool = false, unknownID: Int32? = nil
    ) {
        self.scores = scores
        self.addSpacePrefix = addSpacePrefix
        self.unknownID = unknownID
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bosID = bosID
        self.eosID = eosID
        self.eotID = eotID
        self.padID = padID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.chatTemplate = chatTemplate
    }

    /// The kind of token `id`; `.normal` when the file gives no types, `.undefined` out of range.
    public func type(of id: Int32) -> TokenType {
        guard id >= 0, Int(id) < tokens.count else { return .undefined }
        guard Int(id) < tokenTypes.count else { return .normal }
        return TokenType(rawValue: tokenTypes[Int(id)]) ?? .undefined
    }
}
