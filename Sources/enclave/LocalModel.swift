// The in-process model behind `enclave serve`: the pinned SmolLM2 GGUF served by the engine as the
// `local` (on-prem) provider, with the shipped system prompt.
import Foundation
import Inference
import Routing

enum LocalModel {
    static let promptVersion = "assistant.v1"
    static let systemPrompt = "You are a helpful assistant. Answer briefly and clearly."

    /// The local provider for `modelPath`: the engine (one scheduler owning the model) behind Routing's
    /// `LocalProvider`; `kvCacheBytes` bounds the KV caches the engine keeps for next turns.
    static func providers(modelPath: String, kvCacheBytes: Int) throws -> [any ChatProvider] {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw ValidationErrorText("the model \(modelPath) is missing; run `make model`")
        }
        return [LocalProvider(engine: try InferenceEngine(modelPath: modelPath, cachePoolBytes: kvCacheBytes))]
    }
}
