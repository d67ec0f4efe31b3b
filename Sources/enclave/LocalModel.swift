// The in-process model behind `enclave serve`: the pinned SmolLM2 GGUF served by the engine as the
// `local` (on-prem) provider, with the shipped system prompt.
import Foundation
import Routing

enum LocalModel {
    static let promptVersion = "assistant.v1"
    static let systemPrompt = "You are a helpful assistant. Answer briefly and clearly."

    /// The local providers for `modelPath`. The engine's `InferenceEngine`/`LocalProvider` are not in
    /// this build yet: until they are, no local provider is offered (messages answer
    /// `ERR provider-unavailable`) and a warning says so.
    static func providers(modelPath: String) throws -> [any ChatProvider] {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw ValidationErrorText("the model \(modelPath) is missing; run `make model`")
        }
        FileHandle.standardError.write(Data("warning: this build has no in-process engine yet; chat messages will answer provider-unavailable\n".utf8))
        return []
    }
}
