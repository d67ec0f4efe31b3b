// Reading a ``TokenizerVocabulary`` from a GGUF file's `tokenizer.*` metadata, with llama.cpp's
// defaults where a key is absent (e.g. Llama 3 pre-tokenizers add BOS unless the file says otherwise).
public import GGUF

extension TokenizerVocabulary {
    /// The vocabulary stored in `gguf`.
    /// - Throws: ``TokenizerError`` naming the missing key or the unsupported model / pre-tokenizer.
    public init(gguf: GGUFFile) throws(TokenizerError) {
        let metadata = gguf.metadata
        guard let model = metadata.string("tokenizer.ggml.model") else {
            throw .missingMetadata("tokenizer.ggml.model")
        }
        guard model == "gpt2" else { throw .unsupportedModel(model) }
        let pre = metadata.string("tokenizer.ggml.pre") ?? "default"
        guard let preTokenizer = PreTokenizer(name: pre) else { throw .unsupportedPreTokenizer(pre) }
        guard let tokens = metadata.strings("tokenizer.ggml.tokens") else {
            throw .missingMetadata("tokenizer.ggml.tokens")
        }
        guard let merges = metadata.strings("tokenizer.ggml.merges") else {
            throw .missingMetadata("tokenizer.ggml.merges")
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
        self.init(
            model: model, pre: pre, tokens: tokens, tokenTypes: types, merges: merges,
            bosID: id("tokenizer.ggml.bos_token_id"), eosID: id("tokenizer.ggml.eos_token_id"),
            eotID: id("tokenizer.ggml.eot_token_id"), padID: id("tokenizer.ggml.padding_token_id"),
            addBOS: metadata.bool("tokenizer.ggml.add_bos_token") ?? preTokenizer.addsBOSByDefault,
            addEOS: metadata.bool("tokenizer.ggml.add_eos_token") ?? false,
            chatTemplate: metadata.string("tokenizer.chat_template"))
    }
}
