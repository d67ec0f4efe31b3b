// The engine's one error type: why a GGUF file cannot be run as a model (architecture, shapes, tensor
// types), why its vocabulary cannot make a tokenizer, and why a generation cannot go on. Each case has a
// stable code for logs, `enclave model list` and call records; no text of a prompt or a reply is in any.
public import GGUF

/// Errors raised while loading or running a model, building its tokenizer or generating.
public enum InferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    // MARK: The model file

    /// The file itself is unreadable.
    case file(GGUFError)
    /// `general.architecture` names an architecture this engine does not run.
    case unsupportedArchitecture(String, supported: [String])
    /// A hyperparameter is missing or out of range.
    case badParameter(key: String, reason: String)
    /// A tensor needed by the architecture is absent.
    case missingTensor(String)
    /// A tensor has the wrong shape.
    case badTensorShape(name: String, expected: [Int], found: [Int])
    /// A weight tensor has a type the kernels cannot multiply.
    case unsupportedTensorType(name: String, type: String, supported: [String])
    /// The file has tensors the architecture does not use (an extension this engine would leave out).
    case unexpectedTensors([String], architecture: String)

    // MARK: The tokenizer

    /// `tokenizer.ggml.model` is not one we implement.
    case unsupportedTokenizer(String)
    /// `tokenizer.ggml.pre` names a pre-tokenizer we do not implement.
    case unsupportedPreTokenizer(String)
    /// A required metadata key is missing or has the wrong type.
    case missingMetadata(String)
    /// The vocabulary is inconsistent (e.g. types and tokens differ in length, an id out of range).
    case invalidVocabulary(String)
    /// Input bytes are not valid UTF-8; `offset` is where the first bad sequence starts.
    case invalidUTF8(offset: Int)
    /// No chat template could be recognised and none was configured.
    case unknownChatTemplate

    // MARK: Running

    /// A token id outside the vocabulary.
    case tokenOutOfRange(Int32, vocabulary: Int)
    /// The KV cache is full.
    case contextFull(limit: Int)
    /// Even the last turn alone does not fit in the context.
    case promptTooLong(tokens: Int, limit: Int)
    /// Nothing to respond to.
    case emptyConversation
    /// The engine is shutting down.
    case shutDown

    /// A stable, machine-readable code.
    public var code: String {
        switch self {
        case .file(let error): error.code
        case .unsupportedArchitecture: "model-unsupported-architecture"
        case .badParameter: "model-bad-parameter"
        case .missingTensor: "model-missing-tensor"
        case .badTensorShape: "model-bad-tensor-shape"
        case .unsupportedTensorType: "model-unsupported-tensor-type"
        case .unexpectedTensors: "model-unexpected-tensor"
        case .unsupportedTokenizer: "tokenizer.unsupported-model"
        case .unsupportedPreTokenizer: "tokenizer.unsupported-pre"
        case .missingMetadata: "tokenizer.missing-metadata"
        case .invalidVocabulary: "tokenizer.invalid-vocabulary"
        case .invalidUTF8: "tokenizer.invalid-utf8"
        case .unknownChatTemplate: "chat-template-unknown"
        case .tokenOutOfRange: "model-token-out-of-range"
        case .contextFull: "model-context-full"
        case .promptTooLong: "prompt-too-long"
        case .emptyConversation: "empty-conversation"
        case .shutDown: "engine-shut-down"
        }
    }

    public var description: String {
        switch self {
        case .file(let error): error.description
        case .unsupportedArchitecture(let name, let supported):
            "unsupported architecture '\(name)'; supported: \(supported.joined(separator: ", "))"
        case .badParameter(let key, let reason): "bad model parameter \(key): \(reason)"
        case .missingTensor(let name): "tensor '\(name)' is missing"
        case .badTensorShape(let name, let expected, let found):
            "tensor '\(name)' has shape \(found), expected \(expected)"
        case .unsupportedTensorType(let name, let type, let supported):
            "tensor '\(name)' has type \(type); supported: \(supported.joined(separator: ", "))"
        case .unexpectedTensors(let names, let architecture):
            "tensor '\(names[0])'\(names.count > 1 ? " and \(names.count - 1) more" : "") is not part of the "
                + "\(architecture) model this engine runs; refusing rather than running without it"
        case .unsupportedTokenizer(let name):
            "\(code): tokenizer model '\(name)' is not supported (supported: gpt2, llama)"
        case .unsupportedPreTokenizer(let name):
            "\(code): pre-tokenizer '\(name)' is not supported "
                + "(supported: \(PreTokenizer.supportedNames.joined(separator: ", ")))"
        case .missingMetadata(let key): "\(code): GGUF metadata '\(key)' is missing or has the wrong type"
        case .invalidVocabulary(let why): "\(code): \(why)"
        case .invalidUTF8(let offset): "\(code): the text is not valid UTF-8 (first bad byte at offset \(offset))"
        case .unknownChatTemplate: "the model's chat template is not recognised; configure a template family"
        case .tokenOutOfRange(let token, let vocabulary): "token id \(token) is outside the vocabulary of \(vocabulary)"
        case .contextFull(let limit): "the context of \(limit) tokens is full"
        case .promptTooLong(let tokens, let limit): "the prompt needs \(tokens) tokens; the context holds \(limit)"
        case .emptyConversation: "the conversation has no turns"
        case .shutDown: "the engine is shutting down"
        }
    }
}
