// Reading a ``TokenizerVocabulary`` from a GGUF file's `tokenizer.*` metadata, with llama.cpp's
// defaults where a key is absent (e.g. Llama 3 pre-tokenizers add BOS unless the file says otherwise;
// SentencePiece vocabularies add BOS and a space prefix unless it says otherwise).
public import GGUF

extension TokenizerVocabulary {
    /// The vocabulary stored in `gguf`.
    /// - Throws: ``InferenceError`` naming the missing key or the unsupported model / pre-tokenizer.
    public init(gguf: GGUFFile) throws(InferenceError) {
        let metadata = gguf.metadata
        guard let model = metadata.string("tokenizer.ggml.model") else {
            throw .missingMetadata("tokenizer.ggml.model")
        }
        guard Tokenizer.supportedModels.contains(model) else { throw .unsupportedTokenizer(model) }
        let sentencePiece = model == "llama"
        // llama.cpp ignores the pre-tokenizer of a SentencePiece vocabulary.
        let pre = metadata.string("tokenizer.ggml.pre") ?? "default"
        let preTokenizer = PreTokenizer(name: pre)
        guard sentencePiece || preTokenizer != nil else { throw .unsupportedPreTokenizer(pre) }
        guard let tokens = metadata.strings("tokenizer.ggml.tokens") else {
            throw .missingMetadata("tokenizer.ggml.tokens")
        }
        var merges: [String] = []
        if !sentencePiece {
            guard let values = metadata.strings("tokenizer.ggml.merges") else {
                throw .missingMetadata("tokenizer.ggml.merges")
            }
            merges = values
        }
        var scores: [Float] = []
        if metadata["tokenizer.ggml.scores"] != nil {
            guard let values = metadata.floats("tokenizer.ggml.scores"), values.count == tokens.count else {
                throw .missingMetadata("tokenizer.ggml.scores")
            }
            scores = values
        }
        var types: [Int32] = []
        if metadata["tokenizer.ggml.token_type"] != nil {
            guard let values = metadata.ints("tokenizer.ggml.token_type") else {
                throw .missingMetadata("tokenizer.ggml.token_type")
            }
            types = values.map { Int32(truncatingIfNeeded: $0) }
        }
        func id(_ key: String) -> Int32? {
            guard let value = metadata.int(key), value >= 0, value < tokens.count else { return nil }
            return Int32(value)
        }
        // llama.cpp's SentencePiece defaults: <unk> 0, <s> 1, </s> 2, BOS added, a space prefix.
        let defaults: (unknown: Int32?, bos: Int32?, eos: Int32?) = sentencePiece ? (0, 1, 2) : (nil, nil, nil)
        let inRange = { (id: Int32?) in id.flatMap { $0 < tokens.count ? $0 : nil } }
        self.init(
            model: model, pre: pre, tokens: tokens, tokenTypes: types, merges: merges,
            bosID: id("tokenizer.ggml.bos_token_id") ?? inRange(defaults.bos),
            eosID: id("tokenizer.ggml.eos_token_id") ?? inRange(defaults.eos),
            eotID: id("tokenizer.ggml.eot_token_id"), padID: id("tokenizer.ggml.padding_token_id"),
            addBOS: metadata.bool("tokenizer.ggml.add_bos_token") ?? (sentencePiece || preTokenizer!.addsBOSByDefault),
            addEOS: metadata.bool("tokenizer.ggml.add_eos_token") ?? false,
            chatTemplate: metadata.string("tokenizer.chat_template"), scores: scores,
            addSpacePrefix: metadata.bool("tokenizer.ggml.add_space_prefix") ?? sentencePiece,
            unknownID: id("tokenizer.ggml.unknown_token_id") ?? inRange(defaults.unknown))
    }
}
