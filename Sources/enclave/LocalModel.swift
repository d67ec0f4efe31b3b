// The in-process model behind `enclave serve`: the pinned SmolLM2 GGUF served by the engine as the
// `local` (on-prem) provider, with the shipped system prompt.
import Foundation
import Inference
import Routing

enum LocalModel {
    static let promptVersion = "assistant.v1"
    static let systemPrompt = "You are a helpful assistant. Answer briefly and clearly."

    /// The local provider for `modelPath`: the engine (one scheduler owning the model) behind Routing's
    /// `LocalProvider`.
    static func providers(modelPath: String, kvCacheBytes: Int) throws -> [any ChatProvider] {
        [LocalProvider(engine: try engine(modelPath: modelPath, kvCacheBytes: kvCacheBytes))]
    }

    /// The engine for `modelPath`; `kvCacheBytes` bounds the KV caches it keeps for next turns.
    static func engine(modelPath: String, kvCacheBytes: Int) throws -> InferenceEngine {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw ValidationErrorText("the model \(modelPath) is missing; run `make model`")
        }
        return try InferenceEngine(modelPath: modelPath, cachePoolBytes: kvCacheBytes)
    }
}
