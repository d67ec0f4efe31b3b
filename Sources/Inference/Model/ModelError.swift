// ModelError: why a GGUF file cannot be run as a model (architecture, shapes, tensor types).
public import GGUF

/// Errors raised while loading or running a model.
public enum ModelError: Error, Sendable, Equatable, CustomStringConvertible {
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
    /// A token id outside the vocabulary.
    case tokenOutOfRange(Int32, vocabulary: Int)
    /// The KV cache is full.
    case contextFull(limit: Int)

    /// A stable kebab-case code.
    public var code: String {
        switch self {
        case .file(let e): e.code
        case .unsupportedArchitecture: "model-unsupported-architecture"
        case .badParameter: "model-bad-parameter"
        case .missingTensor: "model-missing-tensor"
        case .badTensorShape: "model-bad-tensor-shape"
        case .unsupportedTensorType: "model-unsupported-tensor-type"
        case .tokenOutOfRange: "model-token-out-of-range"
        case .contextFull: "model-context-full"
        }
    }

    public var description: String {
        switch self {
        case .file(let e): e.description
        case .unsupportedArchitecture(let a, let s):
            "unsupported architecture '\(a)'; supported: \(s.joined(separator: ", "))"
        case .badParameter(let key, let reason): "bad model parameter \(key): \(reason)"
        case .missingTensor(let n): "tensor '\(n)' is missing"
        case .badTensorShape(let n, let e, let f): "tensor '\(n)' has shape \(f), expected \(e)"
        case .unsupportedTensorType(let n, let t, let s):
            "tensor '\(n)' has type \(t); supported: \(s.joined(separator: ", "))"
        case .tokenOutOfRange(let t, let v): "token id \(t) is outside the vocabulary of \(v)"
        case .contextFull(let limit): "the context of \(limit) tokens is full"
        }
    }
}
