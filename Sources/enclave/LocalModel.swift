// The local models behind `enclave serve`: every `kind: local` provider of the configuration is served
// by an engine over its own `model_path` (two providers naming one file share its engine). The engines
// share one KV-cache budget (`engine.kv_cache_mb`, split evenly), and each model's context is the
// `engine.context_length` setting or, by default, its trained context as far as its share of the
// budget holds one whole conversation. With no configuration file, the pinned SmolLM2 serves alone.
import Foundation
import GGUF
import Inference
import Routing

enum LocalModel {
    static let promptVersion = "assistant.v1"
    static let systemPrompt = "You are a helpful assistant. Answer briefly and clearly."

    /// Every local provider `serve` would start with `settings`, in the configuration's order, with its model
    /// file (`--model` applied): the `kind: local` providers, or with no configuration file the pinned model
    /// alone, under LocalProvider's default name `local`.
    static func providers(_ settings: Settings) -> [(name: String, path: String)] {
        guard let configuration = ServeRouting.configuration(settings) else {
            return [("local", settings.modelOverride?.value ?? settings.defaultModelPath)]
        }
        return configuration.providers.filter { $0.kind == .local }.map { ($0.name, $0.model) }
    }

    /// The providers of `configuration`, each `kind: local` one served by the engine of its own model file
    /// with the configured sampling defaults (what `serve` and `eval run` both serve with).
    static func registry(_ configuration: RoutingConfiguration, settings: EngineSettings) async throws
        -> ProviderRegistry
    {
        let engines = try engines(
            paths: configuration.providers.filter { $0.kind == .local }.map(\.model), settings: settings)
        return try await ProviderRegistry(configuration: configuration) { entry in
            var provider = LocalProvider(configuration: entry, engine: engines[entry.model]!)
            provider.sampling = settings.sampling
            return provider
        }
    }

    /// The engines of the given model files, loaded once each, under `settings`.
    static func engines(paths: [String], settings: EngineSettings) throws -> [String: InferenceEngine] {
        let distinct = Array(Set(paths)).sorted()
        let share = distinct.isEmpty ? 0 : settings.kvCacheBytes / distinct.count
        var engines: [String: InferenceEngine] = [:]
        for path in distinct {
            engines[path] = try engine(modelPath: path, settings: settings, kvCacheBytes: share)
        }
        return engines
    }

    /// The engine for `modelPath` with `kvCacheBytes` of the budget.
    static func engine(modelPath: String, settings: EngineSettings, kvCacheBytes: Int) throws -> InferenceEngine {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw CLIError(
                "the model \(modelPath) is missing; run `make model` for the default one, or fix model_path")
        }
        // `enclave model verify`'s check first, so a refusal names everything unsupported at once.
        let config: ModelConfig
        do {
            let verification = try ModelVerification.verify(path: modelPath)
            guard verification.isServable, let verified = verification.config else {
                let reasons = verification.refusals.map(\.description).joined(separator: "; ")
                throw CLIError("the model \(modelPath) cannot be served: \(reasons)")
            }
            config = verified
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("the model \(modelPath) cannot be served: \(error)")
        }
        // The engine keeps keys and values in f32: two vectors of kvDim floats per layer and position.
        let bytesPerToken = 2 * config.layerCount * config.kvDim * MemoryLayout<Float>.size
        let context = settings.context(
            trained: config.trainedContextLength, kvBytesPerToken: bytesPerToken, share: max(kvCacheBytes, 1 << 26))
        return try InferenceEngine(
            modelPath: modelPath, contextLength: context, threads: settings.effectiveThreads,
            cachePoolBytes: kvCacheBytes)
    }
}
