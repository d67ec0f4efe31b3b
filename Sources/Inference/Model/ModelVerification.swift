// ModelVerification: what an operator needs to know about a GGUF file before serving it — whether its
// structure is sound, whether this engine runs its architecture, tensor types and tokenizer, and how much
// memory a context of a given length needs. Every reason the file cannot be served is collected (not just
// the first), each naming exactly what is unsupported. `enclave model verify`, `doctor` and `serve` call
// `ModelVerification.verify(path:contextLength:)`; the file's SHA-256 is the caller's (Inference does not
// link the crypto library).
public import GGUF

/// One reason a model file cannot be served, with a stable code.
public struct ModelRefusal: Sendable, Equatable, CustomStringConvertible {
    /// Stable code (InferenceError's).
    public let code: String
    /// What is unsupported or wrong, naming the key, tensor or type.
    public let message: String
    public var description: String { "\(message) [\(code)]" }
}

/// The tensors of one element type in a file.
public struct TensorTypeUsage: Sendable, Equatable {
    public let type: GGMLType
    public let tensorCount: Int
    /// Elements (weights) in those tensors.
    public let elementCount: Int
    public let byteCount: Int
    /// Whether the kernels can read and multiply tensors of this type.
    public let supported: Bool
}

/// Memory one session of `contextLength` positions needs, beside the mapped file.
public struct ModelMemory: Sendable, Equatable {
    /// Tensor data, mapped read-only from the file (shared by every session).
    public let weightBytes: Int
    /// Keys and values of every layer for the whole context (f32).
    public let kvCacheBytes: Int
    /// Scratch activations for a prompt batch, the logits and the threads' weight tiles (once per model).
    public let scratchBytes: Int
    public var totalBytes: Int { weightBytes + kvCacheBytes + scratchBytes }
}

/// The verdict on a GGUF file.
public struct ModelVerification: Sendable {
    public let path: String
    public let fileSize: Int
    public let ggufVersion: UInt32
    public let architecture: String?
    public let name: String?
    public let tensorCount: Int
    /// Types by bytes, largest first.
    public let tensorTypes: [TensorTypeUsage]
    /// The hyperparameters, when the architecture is supported and they are valid.
    public let config: ModelConfig?
    public let tokenizerModel: String?
    public let chatTemplate: ChatTemplateFamily?
    /// The context the memory figure is for: the one asked for, else the trained context.
    public let contextLength: Int?
    public let memory: ModelMemory?
    /// Every reason the file cannot be served; empty when it can.
    public let refusals: [ModelRefusal]

    public var isServable: Bool { refusals.isEmpty }

    /// Elements of every tensor: the parameter count a model is named by (135M, 8B).
    public var parameterCount: Int { tensorTypes.reduce(0) { $0 + $1.elementCount } }

    /// Reads and checks the file at `path`. Throws only when the file cannot be read as GGUF at all (its
    /// error names the byte or field); everything else is reported in `refusals`.
    public static func verify(path: String, contextLength: Int? = nil, threads: Int = 2) throws(InferenceError)
        -> ModelVerification
    {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw .file(error) }
        return verify(file: file, path: path, contextLength: contextLength, threads: threads)
    }

    /// The same checks on an opened file.
    public static func verify(file: GGUFFile, path: String, contextLength: Int? = nil, threads: Int = 2)
        -> ModelVerification
    {
        var refusals: [ModelRefusal] = []
        func refuse(_ error: InferenceError) {
            refusals.append(ModelRefusal(code: error.code, message: error.description))
        }

        let usage = typeUsage(file)
        for unsupported in usage where !unsupported.supported {
            let example = file.tensors.first { $0.type == unsupported.type }?.name ?? "?"
            refusals.append(
                ModelRefusal(
                    code: "model-unsupported-tensor-type",
                    message: "\(unsupported.tensorCount) tensor(s) of type \(unsupported.type) (e.g. '\(example)'); "
                        + "supported: \(Kernels.supportedWeightTypes.map(\.description).joined(separator: ", "))"))
        }
        var config: ModelConfig?
        do { config = try ModelConfig(file: file) } catch { refuse(error) }
        // Shapes and per-tensor types, only worth checking once the types themselves are all supported.
        if let config, refusals.isEmpty {
            do { _ = try ModelWeights(file: file, config: config) } catch { refuse(error) }
        }
        do { _ = try TokenizerVocabulary(gguf: file) } catch {
            refusals.append(ModelRefusal(code: error.code, message: "tokenizer: \(error)"))
        }
        if let context = contextLength, let config, context > config.trainedContextLength || context < 1 {
            refusals.append(
                ModelRefusal(
                    code: "model-bad-context",
                    message: "a context of \(context) positions is outside 1...\(config.trainedContextLength), "
                        + "the context the model was trained for"))
        }
        let context = config.map { min(max(1, contextLength ?? $0.trainedContextLength), $0.trainedContextLength) }
        let memory = config.map { c in
            let positions = context ?? c.trainedContextLength
            return ModelMemory(
                weightBytes: file.tensors.reduce(0) { $0 + $1.byteCount },
                kvCacheBytes: KVCache.bytes(config: c, positions: positions),
                scratchBytes: RunState.bytes(config: c, batchCapacity: 512, threads: threads, context: positions))
        }
        let metadata = file.metadata
        return ModelVerification(
            path: path, fileSize: file.fileSize, ggufVersion: file.version,
            architecture: metadata.string("general.architecture"), name: metadata.string("general.name"),
            tensorCount: file.tensors.count, tensorTypes: usage, config: config,
            tokenizerModel: metadata.string("tokenizer.ggml.model"),
            chatTemplate: ChatTemplateFamily.detect(
                template: metadata.string("tokenizer.chat_template"),
                vocabulary: metadata.strings("tokenizer.ggml.tokens") ?? []),
            contextLength: context, memory: memory, refusals: refusals)
    }

    /// Tensor counts and bytes per type, and whether the kernels handle each.
    static func typeUsage(_ file: GGUFFile) -> [TensorTypeUsage] {
        var counts: [GGMLType: (count: Int, elements: Int, bytes: Int)] = [:]
        for t in file.tensors {
            counts[t.type, default: (0, 0, 0)].count += 1
            counts[t.type, default: (0, 0, 0)].elements += t.elementCount
            counts[t.type, default: (0, 0, 0)].bytes += t.byteCount
        }
        return counts.map { type, c in
            TensorTypeUsage(
                type: type, tensorCount: c.count, elementCount: c.elements, byteCount: c.bytes,
                supported: Kernels.supportedWeightTypes.contains(type))
        }
        .sorted { ($0.byteCount, $0.type.rawValue) > ($1.byteCount, $1.type.rawValue) }
    }
}
