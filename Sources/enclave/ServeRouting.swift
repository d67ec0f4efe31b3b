// The providers behind `enclave serve`: the `providers:` and `routing:` sections of the configuration
// file (the `--config` file when it declares them, else the shipped deploy/enclave.yaml when present),
// with every `local` entry served by the one engine loaded from the model file. Remote providers are
// only HTTP clients here: one that cannot be reached fails its calls (`provider-unavailable`, or a
// fallback inside the allowed set) and never stops start-up. With no configuration file at all, the
// local model alone is served, as before.
import ChatCore
import Foundation
import Inference
import Routing
import ServiceLifecycle

enum ServeRouting {
    static let shippedConfiguration = "deploy/enclave.yaml"
    static let promptDirectory = "prompts"

    /// The routing configuration file to use, if any: `config` when it declares providers, else the
    /// shipped one when it exists.
    static func configurationPath(config: String?) -> String? {
        if let config, let text = try? String(contentsOfFile: config, encoding: .utf8),
            text.split(separator: "\n").contains(where: { $0.hasPrefix("providers:") })
        {
            return config
        }
        return FileManager.default.fileExists(atPath: shippedConfiguration) ? shippedConfiguration : nil
    }

    /// The gateway over the configured providers, and the registry to shut down when serving ends.
    /// `kvCacheBytes` bounds the local engine's kept KV caches.
    static func gateway(config: String?, modelPath: String, kvCacheBytes: Int) async throws
        -> (ProviderGateway, ProviderRegistry?)
    {
        guard let path = configurationPath(config: config) else {
            let providers = try LocalModel.providers(modelPath: modelPath, kvCacheBytes: kvCacheBytes)
            let gateway = ProviderGateway(
                providers: providers, defaultProvider: providers.first?.info.name ?? "local",
                systemPrompt: LocalModel.systemPrompt, promptVersion: LocalModel.promptVersion)
            return (gateway, nil)
        }
        let configuration: RoutingConfiguration
        do {
            configuration = try RoutingConfiguration.load(path: path)
        } catch {
            throw ValidationErrorText("\(error)")
        }
        let prompts: PromptLibrary
        do {
            prompts = try PromptLibrary(directory: promptDirectory, selection: configuration.prompts)
        } catch {
            throw ValidationErrorText("\(error)")
        }
        var engine: InferenceEngine?
        let registry = try await ProviderRegistry(configuration: configuration) { entry in
            let shared = try engine ?? LocalModel.engine(modelPath: modelPath, kvCacheBytes: kvCacheBytes)
            engine = shared
            return LocalProvider(configuration: entry, engine: shared)
        }
        let gateway = ProviderGateway(
            registry: registry, prompts: prompts, health: ProviderHealth(settings: configuration.health))
        return (gateway, registry)
    }
}

/// Probes every provider's health periodically, so a provider that went down is known before a user's
/// message waits for its timeout (ProviderHealth's rule; `/models` shows it `down`). Ends on shutdown.
struct HealthProbeService: Service {
    let gateway: ProviderGateway
    var interval: Duration = .seconds(30)

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                await gateway.health.probe(gateway.registry.providers)
            }
        }
    }
}
